#!/usr/bin/env bash
# Wheels that the lent GPU machine's image lacks (see .library/device/KINDS.md for its package list),
# for bench/gpu_check.sh: lm-evaluation-harness (the eval comparison), DeepSpeed (the ZeRO launches)
# and crossalign's own pure-Python needs. Run here (package registry reachable), in the repository
# root; writes .whl/ (git-ignored), which `run` carries (carry [".whl"]).
#
#   bash bench/gpu_wheels.sh
#
# Versions are the ones the lock (constraints.txt) or a resolve of lm-eval 0.4.13 + deepspeed 0.19.8
# chose here; binary wheels are fetched for CPython 3.12 on manylinux x86-64 (the image's Python).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl
PLAT=(--only-binary=:all: --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64
      --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)
BINARY=(lm-eval==0.4.13 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 evaluate==0.4.6 pytablewriter==0.38.0
        DataProperty==0.37.0 mbstrdecoder==1.1.5 pathvalidate==3.3.1 tabledata==0.0.26 tcolorpy==0.1.7
        typepy==0.3.1 chardet==6.0.0.post1 nltk==3.10.4 more-itertools==11.2.1 hjson==3.1.0 pydantic==2.14.4
        pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 langcodes==3.5.1
        language-data==1.4.0 marisa-trie==1.4.1 polib==1.2.0)
SOURCE_ONLY=(rouge-score==0.1.2 sqlitedict==2.1.0 word2number==1.1 deepspeed==0.19.8)
python3 -m pip download -q --no-deps "${PLAT[@]}" -d .whl "${BINARY[@]}"
# published as source only: build pure-Python wheels here (DeepSpeed without its CUDA ops, which it
# builds just in time where they are needed)
DS_BUILD_OPS=0 python3 -m pip wheel -q --no-deps --no-build-isolation -w .whl "${SOURCE_ONLY[@]}" \
  || DS_BUILD_OPS=0 python3 -m pip wheel -q --no-deps -w .whl "${SOURCE_ONLY[@]}"
ls -la .whl | awk '{s += $5} END {printf "%d files, %.1f MiB\n", NR - 3, s / 1048576}'
