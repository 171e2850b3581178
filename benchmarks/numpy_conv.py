"""Benchmark: the course's NumPy conv2d against torch.nn.functional.conv2d on CPU, and against conv2d_naive.

Problem (issue 3): N=8, C=16, H=W=32, F=32, 3x3 kernel, stride 1, padding 1, float32. NumPy's BLAS and torch are
limited to the same number of threads. Targets: forward <= 2.0x torch, backward <= 3.0x torch, conv2d >= 100x faster
than conv2d_naive. Each timing is the best of many repeats (each repeat the mean of a few calls): the run least
disturbed by other work on the machine, as ``timeit`` recommends. The repeats are spread over several rounds that
alternate between NumPy and torch, so a busy spell on a shared machine hits both; within a round each library is timed
in its own block so that one library's idle worker threads do not slow the other down. Medians are printed too.

    python benchmarks/numpy_conv.py [--threads 1] [--rounds 5] [--repeats 10]
"""
from __future__ import annotations

import argparse
import platform
import time

import numpy as np


def timings(fn, *, repeats: int, number: int) -> list[float]:
    """Seconds per call of ``fn`` for each of ``repeats`` repeats of ``number`` calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return times


def main(argv=None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="threads for both NumPy's BLAS and torch")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=10, help="repeats per round")
    args = parser.parse_args(argv)

    import torch
    import torch.nn.functional as F
    from threadpoolctl import threadpool_limits

    from course.numpy_nn import conv2d, conv2d_backward, conv2d_naive

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 16, 32, 32)).astype(np.float32)
    w = rng.standard_normal((32, 16, 3, 3)).astype(np.float32)
    b = rng.standard_normal(32).astype(np.float32)
    dout = rng.standard_normal((8, 32, 32, 32)).astype(np.float32)
    tx, tw, tb, tdout = (torch.from_numpy(a) for a in (x, w, b, dout))
    tx.requires_grad_()
    tw.requires_grad_()
    tb.requires_grad_()

    y = F.conv2d(tx, tw, tb, padding=1)
    cases = {  # name -> function; backward: gradients w.r.t. input, weight and bias of one stored forward graph
        "ours forward": lambda: conv2d(x, w, b, padding=1),
        "ours backward": lambda: conv2d_backward(dout, x, w, padding=1),
        "torch forward": lambda: F.conv2d(tx.detach(), tw.detach(), tb.detach(), padding=1),
        "torch backward": lambda: torch.autograd.grad(y, (tx, tw, tb), tdout, retain_graph=True),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    with threadpool_limits(limits=args.threads):
        for _ in range(args.rounds):
            for name, fn in cases.items():
                times[name] += timings(fn, repeats=args.repeats, number=5)
        naive = min(timings(lambda: conv2d_naive(x, w, b, padding=1), repeats=1, number=1))
    best = {name: min(t) for name, t in times.items()}
    median = {name: float(np.median(t)) for name, t in times.items()}

    # the numbers must agree before their times mean anything
    with torch.no_grad():
        np.testing.assert_allclose(conv2d(x, w, b, padding=1), F.conv2d(tx, tw, tb, padding=1).numpy(),
                                   rtol=1e-3, atol=1e-3)

    print(f"conv2d benchmark: N=8 C=16 H=W=32 F=32 3x3 stride 1 padding 1 float32 | threads: numpy BLAS "
          f"{args.threads}, torch {torch.get_num_threads()} | torch {torch.__version__}, numpy {np.__version__}, "
          f"{platform.processor() or platform.machine()}")
    print(f"{'pass':<10}{'ours (ms)':>11}{'torch (ms)':>12}{'ratio':>8}{'target':>9}  verdict   "
          f"(medians: ours / torch = ratio)")
    result = {}
    for name, target in (("forward", 2.0), ("backward", 3.0)):
        ours, ref = best[f"ours {name}"], best[f"torch {name}"]
        ratio = ours / ref
        result[f"{name}_ratio"] = ratio
        m_ours, m_ref = median[f"ours {name}"], median[f"torch {name}"]
        print(f"{name:<10}{ours * 1e3:>11.3f}{ref * 1e3:>12.3f}{ratio:>7.2f}x{'<= ' + str(target) + 'x':>9}  "
              f"{'meets ' if ratio <= target else 'MISSES'}    ({m_ours * 1e3:.3f} / {m_ref * 1e3:.3f} = "
              f"{m_ours / m_ref:.2f}x)")
    speedup = naive / best["ours forward"]
    result["speedup_over_naive"] = speedup
    print(f"conv2d_naive forward: {naive * 1e3:.1f} ms -> conv2d is {speedup:.0f}x faster (target >= 100x)  "
          f"{'meets' if speedup >= 100 else 'MISSES'}")
    return result


if __name__ == "__main__":
    main()
