"""Blockwise bitext retrieval at scale: time and peak memory against the full-matrix size.

    flock /tmp/crossalign-heavy.lock python bench/analysis_retrieval_scale.py --n 20000 --dim 640

Builds ``n`` random "translation pairs" (``tgt = src + noise``) of Gemma-3-270M's width and
runs :func:`crossalign.retrieval.retrieval_scores` (both directions, cosine and
margin). Prints the wall time and the growth of the process's peak resident memory, next to
the ``n x n`` float32 matrix that a non-blockwise implementation would hold. Memory grows
with ``block_size x n``, not ``n x n``: 100k pairs at block 4096 need ~1.6 GB of scores per
block instead of 40 GB.
"""

from __future__ import annotations

import argparse
import resource
import time

import torch

from crossalign.retrieval import retrieval_scores


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--dim", type=int, default=640)
    ap.add_argument("--block-size", type=int, default=1024)
    ap.add_argument("--noise", type=float, default=1.0)
    args = ap.parse_args()
    g = torch.Generator().manual_seed(0)
    src = torch.randn(args.n, args.dim, generator=g)
    tgt = src + args.noise * torch.randn(args.n, args.dim, generator=g)
    before = peak_rss_mb()
    start = time.perf_counter()
    out = retrieval_scores(src, tgt, k=4, block_size=args.block_size)
    wall = time.perf_counter() - start
    grown = peak_rss_mb() - before
    full_mb = args.n * args.n * 4 / 2**20
    print(f"n={args.n} dim={args.dim} block={args.block_size}: {wall:.1f}s, threads {torch.get_num_threads()}")
    print(f"peak RSS grew by {grown:.0f} MB; one n x n float32 matrix would be {full_mb:.0f} MB")
    print(f"accuracy: {out}")


if __name__ == "__main__":
    main()
