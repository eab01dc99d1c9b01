#!/usr/bin/env bash
# The GPU check (issue 13, point 5): one script, under 8 minutes on one GPU, that prints the figures.
# Random-init models of real shapes built in code (bench/shapes.py): no model weights travel.
#
#   bash bench/gpu_wheels.sh            # here, once: wheels the GPU image lacks -> .whl/ (git-ignored)
#   # on the lent GPU machine (device tool, carry [".whl"]), in the repository root:
#   bash bench/gpu_check.sh 2>&1 | tee $OUT/gpu_check.log
#   SMOKE=1 bash bench/gpu_check.sh     # on a CPU, tiny shapes: checks that the script itself runs
#
# 1. training step, ours vs a reference-style step: tokens/s, MFU, peak memory; Qwen2.5-0.5B and
#    Llama-3.2-1B shapes, bf16 autocast + SDPA (bench/train_speed.py)
# 2. ICL scoring requests/s against lm-eval's HFLM on the same requests, 0-shot and 5-shot, with
#    the share of identical predictions (bench/eval_speed.py --synthetic)
# 3. `crossalign train` through each launcher on 1 GPU, in fp32 so that they must agree: plain,
#    accelerate + configs/accelerate/fsdp.yaml (FSDP2), + deepspeed_zero2.yaml, + deepspeed_zero3.yaml;
#    then bench/compare_models.py: parameters and logits of each against the plain run.
# Figures land in $OUT (default /tmp/gpu_check) as JSON and in the log.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$ROOT/src:$ROOT/bench${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
if [ "${SMOKE:-0}" = 1 ]; then
  DEVICE=cpu; SHAPES="llama-tiny"; LAUNCH_SHAPE=llama-tiny; BATCH=4; STEPS=2; ITEMS=20; FIVE=5; TRAIN_STEPS=3
  BF16=""; DTYPE=float32
else
  DEVICE=cuda; SHAPES="qwen2.5-0.5b llama-3.2-1b"; LAUNCH_SHAPE=qwen2.5-0.5b; BATCH=16; STEPS=5; ITEMS=1000
  FIVE=200; TRAIN_STEPS=10; BF16="--bf16"; DTYPE=bfloat16
fi
phase() { echo; echo "=== $* ($(date -u +%H:%M:%S))"; }
START=$(date +%s)

phase "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "no nvidia-smi"
$PY - <<'PY'
import importlib, torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "device", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu")
for m in ("transformers", "accelerate", "peft", "deepspeed", "lm_eval"):
    try:
        print(m, importlib.import_module(m).__version__)
    except Exception as exc:  # noqa: BLE001
        print(m, "missing:", type(exc).__name__, exc)
PY

phase "1. training step: ours vs reference-style"
for shape in $SHAPES; do
  timeout 240 $PY bench/train_speed.py --model "shape:$shape" $BF16 --device $DEVICE --batch $BATCH \
    --max-length 512 --steps $STEPS --warmup 2 --output "$OUT/train_$shape.json" || echo "FAILED: train_speed $shape"
done

phase "2. ICL scoring vs lm-eval HFLM"
FIX=/tmp/gpu_fixture
timeout 120 $PY bench/gpu_fixture.py --shape $LAUNCH_SHAPE --out $FIX || echo "FAILED: fixture"
if $PY -c "import lm_eval" 2>/dev/null; then
  timeout 150 $PY bench/eval_speed.py --model $FIX/model --synthetic $ITEMS --shots 0 --device $DEVICE \
    --dtype $DTYPE --batch-size 32 --no-reference --output "$OUT/eval_0shot.json" || echo "FAILED: eval 0-shot"
  timeout 150 $PY bench/eval_speed.py --model $FIX/model --synthetic $FIVE --shots 5 --device $DEVICE \
    --dtype $DTYPE --batch-size 32 --no-reference --output "$OUT/eval_5shot.json" || echo "FAILED: eval 5-shot"
else
  echo "NOT RUN: lm_eval is not importable (bash bench/gpu_wheels.sh here, then carry .whl)"
fi

phase "3. crossalign train through each launcher, 1 device, fp32"
COMMON=(--model.name_or_path $FIX/model --data.train_file $FIX/samples.jsonl --training.max_steps $TRAIN_STEPS
        --training.per_device_train_batch_size 8 --training.learning_rate 1e-4 --training.report_to none
        --training.logging_steps 1 --training.save_steps 1000 --training.bf16 false --clm.max_length 256
        --contrastive.layer middle --training.seed 0)
timeout 150 $PY -m crossalign.cli train "${COMMON[@]}" --training.output_dir /tmp/gc_plain > "$OUT/train_plain.log" 2>&1 \
  && echo "plain: ok" || { echo "FAILED: plain"; tail -5 "$OUT/train_plain.log"; }
DONE=(/tmp/gc_plain/model)
if [ "$DEVICE" = cuda ]; then
  for cfg in fsdp deepspeed_zero2 deepspeed_zero3; do
    if [[ $cfg == deepspeed* ]] && ! $PY -c "import deepspeed" 2>/dev/null; then
      echo "NOT RUN: $cfg (deepspeed is not importable)"; continue
    fi
    extra=(); [[ $cfg == deepspeed* ]] && extra=(--offload_optimizer_device none)  # no CPU Adam build
    timeout 180 $PY -m accelerate.commands.launch --config_file configs/accelerate/$cfg.yaml --num_processes 1 \
      --mixed_precision no "${extra[@]}" -m crossalign.cli train "${COMMON[@]}" --training.output_dir /tmp/gc_$cfg \
      > "$OUT/train_$cfg.log" 2>&1 && { echo "$cfg: ok"; DONE+=(/tmp/gc_$cfg/model); } \
      || { echo "FAILED: $cfg"; tail -15 "$OUT/train_$cfg.log"; }
  done
fi
grep -h "train_runtime" "$OUT"/train_*.log | sed 's/^/  /'
timeout 120 $PY bench/compare_models.py "${DONE[@]}" > "$OUT/compare.log" 2>&1; cat "$OUT/compare.log" | grep -v '^\[' 

phase "done in $(( $(date +%s) - START )) s; figures in $OUT"
ls "$OUT"
