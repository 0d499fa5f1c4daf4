"""Benchmark (not a test): the NumPy im2col conv2d forward + backward against PyTorch's, on the same cores.

Two problems: a 64x3x32x32 batch with 16 3x3 filters, and a 64x16x32x32 batch with 32 filters
(padding 1, stride 1), in float32 and in float64 for both libraries. Each side is timed as the best of ``--repeats``
runs of forward + backward (dX, dW, db); the ratio NumPy / torch is printed (target: within 5x).

    .venv/bin/python benchmarks/conv2d.py --threads 2
"""
from __future__ import annotations

import argparse
import os
import sys
import time


def _best(step, repeats: int) -> float:
    """The shortest of ``repeats`` timed calls, after one warm-up call (the least disturbed run)."""
    step()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="threads for both NumPy's BLAS and torch")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)  # before NumPy loads its BLAS
    import numpy as np
    import torch

    from dlcourse.cnn import conv2d_backward, conv2d_forward

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(f"threads: {args.threads}, torch {torch.__version__}, numpy {np.__version__}")
    for n, c, f in ((64, 3, 16), (64, 16, 32)):
        for dtype in (np.float32, np.float64):
            X = rng.normal(size=(n, c, 32, 32)).astype(dtype)
            W = rng.normal(size=(f, c, 3, 3)).astype(dtype)
            b = rng.normal(size=f).astype(dtype)
            dY = rng.normal(size=(n, f, 32, 32)).astype(dtype)
            times = {"numpy": _best(lambda: conv2d_backward(dY, conv2d_forward(X, W, b, padding=1)[1]),
                                    args.repeats)}
            Xt, Wt, bt = (torch.tensor(a, requires_grad=True) for a in (X, W, b))
            dYt = torch.tensor(dY)
            times["torch"] = _best(lambda: torch.autograd.grad(torch.nn.functional.conv2d(Xt, Wt, bt, padding=1),
                                                               (Xt, Wt, bt), dYt), args.repeats)
            print(f"{n}x{c}x32x32, {f} 3x3 filters, {np.dtype(dtype).name}: numpy {1e3 * times['numpy']:.1f} ms, "
                  f"torch {1e3 * times['torch']:.1f} ms, ratio {times['numpy'] / times['torch']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
