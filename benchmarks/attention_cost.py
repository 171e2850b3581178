"""Benchmark (chapter 12): what joint and divided space-time attention cost as the clip gets longer, and how big
torchvision's real video transformers are next to 3D CNNs.

Part 1 — one forward pass of the same VideoTransformer (dim 64, depth 4, 4 heads, 1x8x8 tubelets, attention by hand)
on one clip of T x 64 x 64 for T = 4, 8, 16, 32 (N = 64 tokens per frame):

- FLOPs, counted with ``torch.utils.flop_counter`` on the meta device (exact, machine-independent), split into the
  attention products (q k^T and weights @ v) and the rest; the ratio divided / joint;
- peak memory of the forward pass (inference, ``torch.no_grad()``): on the CPU the growth of the peak resident set
  size of a fresh process (``ru_maxrss``), and on CUDA (when present) ``torch.cuda.max_memory_allocated``.

Joint attention scores (T N)^2 query-key pairs per layer, divided attention T^2 N + N^2 T: the ratio must fall as
T grows. Part 2 — parameters and FLOPs of torchvision's ``mvit_v2_s`` and ``swin3d_t`` (built on the meta device,
no weights downloaded) next to R(2+1)D-18 and C3D, each at its usual input size.

    python benchmarks/attention_cost.py                      # prints both tables
    python benchmarks/attention_cost.py --save               # also writes course/results/attention_cost.json
    python benchmarks/attention_cost.py --frames 4 8 --no-memory --no-models    # the quick smoke version
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
from pathlib import Path

import torch

from course.models import C3D, VideoTransformer, count_flops, count_parameters
from course.models.transformer import attention_cost
from course.train import save_record
from course.viz.transformer import format_attention_cost

RECORD = "attention_cost"
MODEL_KWARGS = {"tubelet": (1, 8, 8), "dim": 64, "depth": 4, "heads": 4}


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def _worker(attention: str, frames: int, size: int, fused: bool) -> None:
    """In a fresh process: peak RSS growth (bytes) during one no-grad forward pass; printed as JSON."""
    torch.set_num_threads(1)
    model = VideoTransformer(10, input_size=(frames, size, size), attention=attention, pooling="mean", **MODEL_KWARGS)
    model.fused_attention = fused
    model.eval()
    x = torch.rand(1, 3, frames, size, size)
    before = _rss_bytes()
    with torch.no_grad():
        model(x)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024      # kilobytes on Linux
    print(json.dumps({"peak_bytes": max(0, peak - before)}))


def cpu_peak_bytes(attention: str, frames: int, size: int, *, fused: bool = False) -> int | None:
    """Peak memory growth of one forward pass on the CPU, measured in a fresh Python process (Linux only)."""
    if not Path("/proc/self/statm").exists():
        return None
    cmd = [sys.executable, __file__, "--worker", attention, str(frames), str(size), str(int(fused))]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_bytes"]


def cuda_peak_bytes(attention: str, frames: int, size: int, *, fused: bool = False) -> int | None:
    if not torch.cuda.is_available():
        return None
    model = VideoTransformer(10, input_size=(frames, size, size), attention=attention, pooling="mean",
                             **MODEL_KWARGS).cuda().eval()
    model.fused_attention = fused
    x = torch.rand(1, 3, frames, size, size, device="cuda")
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    with torch.no_grad():
        model(x)
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - before


def scaling_rows(frames_list, size: int, *, memory: bool = True, progress: bool = True) -> list[dict]:
    """One row per T: tokens, FLOPs (total and attention) of joint and divided, their ratio, peak memories."""
    from tqdm.auto import tqdm

    rows = []
    for frames in tqdm(frames_list, desc="T", disable=not progress):
        row = {"frames": frames, "size": size}
        for attention in ("joint", "divided"):
            cost = attention_cost(frames, size=size, attention=attention, **MODEL_KWARGS)
            row["tokens"] = cost["tokens"]
            row[f"{attention}_flops"] = cost["flops"]
            row[f"{attention}_attention_flops"] = cost["attention_flops"]
            if memory:
                row[f"{attention}_cpu_peak_bytes"] = cpu_peak_bytes(attention, frames, size)
                row[f"{attention}_cuda_peak_bytes"] = cuda_peak_bytes(attention, frames, size)
        if memory:
            row["joint_fused_cpu_peak_bytes"] = cpu_peak_bytes("joint", frames, size, fused=True)
        row["ratio"] = row["divided_flops"] / row["joint_flops"]
        rows.append(row)
    return rows


def model_rows() -> list[dict]:
    """Parameters and FLOPs of real video models, built on the meta device (nothing allocated, nothing downloaded)."""
    import torchvision.models.video as tv

    try:
        from course.models import r2plus1d_18 as r2plus1d_builder   # chapter 10's, parity with torchvision
        r2plus1d_source = "course.models"
    except ImportError:
        r2plus1d_builder, r2plus1d_source = tv.r2plus1d_18, "torchvision"
    specs = [
        ("MViT-v2-S", "torchvision mvit_v2_s", lambda: tv.mvit_v2_s(), (1, 3, 16, 224, 224)),
        ("Video Swin-T", "torchvision swin3d_t", lambda: tv.swin3d_t(), (1, 3, 16, 224, 224)),
        ("R(2+1)D-18", f"{r2plus1d_source} r2plus1d_18", lambda: r2plus1d_builder(num_classes=400),
         (1, 3, 16, 112, 112)),
        ("C3D", "course.models C3D", lambda: C3D(num_classes=400), (1, 3, 16, 112, 112)),
    ]
    rows = []
    for name, source, builder, shape in specs:
        with torch.device("meta"):
            model = builder()
        rows.append({"model": name, "source": source, "input": "x".join(map(str, shape[1:])),
                     "parameters": count_parameters(model), "flops": count_flops(model, shape)})
    return rows


def main(argv=None) -> int:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), bool(int(sys.argv[5])))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, nargs="+", default=[4, 8, 16, 32])
    parser.add_argument("--size", type=int, default=64, help="H = W of the clips (a multiple of 8)")
    parser.add_argument("--no-memory", action="store_true", help="FLOPs only (fast)")
    parser.add_argument("--no-models", action="store_true", help="skip the table of torchvision models")
    parser.add_argument("--save", action="store_true", help=f"write course/results/{RECORD}.json")
    args = parser.parse_args(argv)
    print(f"VideoTransformer {MODEL_KWARGS}, one clip 3 x T x {args.size} x {args.size}, forward pass, "
          "attention by hand; FLOPs from torch.utils.flop_counter (1 multiply-add = 2 FLOPs)")
    rows = scaling_rows(args.frames, args.size, memory=not args.no_memory)
    ratios = [r["ratio"] for r in rows]
    falls = all(b < a for a, b in zip(ratios, ratios[1:]))
    print(f"divided/joint FLOP ratio falls as T grows: {'yes' if falls else 'NO'} "
          f"({' -> '.join(f'{r:.2f}' for r in ratios)})")
    models = [] if args.no_models else model_rows()
    record = {
        "command": "python benchmarks/attention_cost.py" + (" --save" if args.save else ""),
        "device": f"cpu ({platform.processor() or platform.machine()}), load average {os.getloadavg()[0]:.1f}"
                  + (f" + {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "torch": torch.__version__, "model": {k: list(v) if isinstance(v, tuple) else v for k, v in MODEL_KWARGS.items()},
        "runs": rows, "models": models}
    print(format_attention_cost(record))
    if args.save:
        print(f"saved {save_record(record, RECORD)}")
    return 0 if falls else 1


if __name__ == "__main__":
    raise SystemExit(main())
