"""Benchmark: how fast does ``VideoFolder`` deliver clips, against raw PyAV and against its own cache?

Targets (issue 4):

- ``VideoFolder`` without cache delivers at least 0.9x the clips/s of raw PyAV decoding the same frames of the same
  files (its sampling, bookkeeping and tensor conversion cost little next to decoding);
- an epoch served from the decoded-video cache is at least 10x faster than an uncached epoch.

Three configurations are timed: full-size frames and frames decoded at C3D's 128x171 input size, both returned as
float clips (C, T, H, W) — these two decide the exit status — and, for information, full-size frames returned as
uint8 (the float conversion, the one cost a cache cannot remove, left to the GPU).

Both ratios are measured against references timed in the same run, on the same files. Times are CPU seconds of the
process (all its threads) by default: on a machine shared with other work they are far steadier than wall-clock
seconds, and when every core runs a DataLoader worker, CPU time per clip is what sets the clips/s (``--clock wall``
times wall-clock seconds instead). By default the script writes
its own UCF101-like videos (320x240 MPEG-4 Part 2 AVI at 25 fps, 100-160 frames) into a temporary folder; pass
``--root`` to time a real ``root/<class>/<video>`` folder instead. Each measurement is repeated (``--repeats``) and
the best run of each clip counts.

    python benchmarks/video_loading.py [--root DIR] [--videos 24] [--frames-per-clip 16] [--repeats 5] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_videos(root: Path, n: int, seed: int = 0) -> None:
    """Write ``n`` UCF101-like AVI files (a textured scene with a moving object and sensor noise) under root/<class>/."""
    from course.data import write_video

    rng = np.random.default_rng(seed)
    h, w = 240, 320
    yy, xx = np.mgrid[0:h, 0:w]
    for i in range(n):
        t = int(rng.integers(100, 161))
        background = (96 + 60 * np.sin(xx / rng.uniform(8, 30)) * np.cos(yy / rng.uniform(8, 30))).astype(np.float32)
        frames = np.empty((t, h, w, 3), np.uint8)
        x0, y0, vx, vy = rng.uniform(0, w - 60), rng.uniform(0, h - 60), rng.uniform(-4, 4), rng.uniform(-3, 3)
        colour = rng.uniform(0, 255, 3)
        for k in range(t):
            frame = np.repeat(background[..., None], 3, axis=2) + rng.normal(0, 6, (h, w, 3))
            x, y = int(x0 + vx * k) % (w - 60), int(y0 + vy * k) % (h - 60)
            frame[y:y + 60, x:x + 60] = colour
            frames[k] = np.clip(frame, 0, 255)
        write_video(root / f"class{i % 4}" / f"video{i:03d}.avi", frames, fps=25)


def raw_pyav_clip(path: Path, indices: np.ndarray, size=None):
    """The reference: plain PyAV, decode from the start and convert the clip's frames to RGB (at ``size`` (h, w) if
    given, with FFmpeg's scaler, as ``VideoFolder(decode_size=...)`` does), stop after the last one."""
    import av
    import torch

    kwargs = {"format": "rgb24"} if size is None else {"format": "rgb24", "height": size[0], "width": size[1]}
    wanted, last, frames = set(indices.tolist()), int(indices.max()), {}
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for i, frame in enumerate(container.decode(stream)):
            if i in wanted:
                frames[i] = frame.to_ndarray(**kwargs)
            if i >= last:
                break
    return torch.from_numpy(np.stack([frames[i] for i in indices.tolist()]))


def raw_pyav_full(path: Path):
    """A naive loader: decode every frame of the file to RGB."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)])


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}
CLOCK = CLOCKS["cpu"]


def timed(fns: dict, items: int, repeats: int) -> dict:
    """Seconds per epoch of each ``fn(i)`` over ``items`` items: each item's time is the best of ``repeats`` runs (the
    run least disturbed by other processes), and the functions take turns item by item, so background load hits all
    of them alike."""
    best = {name: [float("inf")] * items for name in fns}
    for _ in range(repeats):
        for i in range(items):
            for name, fn in fns.items():
                start = CLOCK()
                fn(i)
                best[name][i] = min(best[name][i], CLOCK() - start)
    return {name: sum(times) for name, times in best.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, help="a root/<class>/<video> folder (default: write synthetic videos)")
    parser.add_argument("--videos", type=int, default=24, help="number of synthetic videos to write")
    parser.add_argument("--frames-per-clip", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (DataLoader workers use 1)")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="cpu",
                        help="cpu: CPU seconds used by this process, all its threads (default; steady on a shared "
                             "machine, and what limits clips/s when every core runs a DataLoader worker); "
                             "wall: wall-clock seconds")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)

    import torch

    from course.data import VideoFolder
    from course.data.video_io import video_info

    # Clips are loaded in DataLoader workers, and PyTorch gives each worker one thread; do the same here (it also
    # keeps torch's thread pool from fighting other processes for the cores).
    torch.set_num_threads(args.threads)
    global CLOCK
    CLOCK = CLOCKS[args.clock]

    results, ok = {}, True
    with tempfile.TemporaryDirectory(prefix="course_bench_") as tmp:
        tmp = Path(tmp)
        root = args.root
        if root is None:
            root = tmp / "videos"
            start = time.perf_counter()
            make_videos(root, args.videos)
            print(f"wrote {args.videos} synthetic 320x240 MPEG-4 AVI videos in {time.perf_counter() - start:.1f} s")
        paths = [p for p, _ in VideoFolder(root, args.frames_per_clip).samples]
        infos = {p: video_info(p) for p in paths}
        print(f"{len(paths)} videos, {sum(i.frames for i in infos.values())} frames in all, {args.frames_per_clip} "
              f"frames per clip (the centre clip), {args.threads} torch thread(s), best of {args.repeats} runs "
              f"per clip, {args.clock} time ({'clips per CPU-second' if args.clock == 'cpu' else 'clips per second'})")
        for p in paths:  # warm the OS file cache so that no measurement pays for the first disk read
            p.read_bytes()
        t_full = timed({"full": lambda i: raw_pyav_full(paths[i])}, len(paths), 1)["full"]
        print(f"(for scale: a naive loader that decodes every frame of every video: {len(paths) / t_full:.1f} videos/s)")
        configs = (
            ("full size (320x240), float clips", None, None),
            ("decode_size=(128, 171) (C3D's input), float clips", (128, 171), None),
            ("full size (320x240), uint8 frames (convert to float on the GPU)", None, keep_uint8),
        )
        for k, (label, size, transform) in enumerate(configs):
            row = measure(root, paths, infos, size, transform, args, tmp / f"cache_{k}")
            results[label] = row
            passed = print_table(label, row, len(paths))
            ok &= passed if k < 2 else True  # the third configuration is for information
    if args.json:
        args.json.write_text(json.dumps({"videos": len(paths), "frames_per_clip": args.frames_per_clip,
                                         "repeats": args.repeats, "threads": args.threads, "results": results,
                                         "pass": ok}, indent=2))
    return 0 if ok else 1


def keep_uint8(frames):
    """A transform that keeps the decoded uint8 frames (T, H, W, C): the float conversion happens later, on the GPU."""
    return frames


def measure(root, paths, infos, size, transform, args, cache_dir) -> dict:
    """Seconds per epoch: raw PyAV reference, VideoFolder uncached, first (cache-filling) and later cached epochs."""
    from course.data import VideoFolder
    from course.data.sampling import center_clip_indices

    # "center" sampling: the dataset and the reference decode exactly the same frames of every video.
    plain = VideoFolder(root, args.frames_per_clip, sampling="center", decode_size=size, transform=transform)
    cached = VideoFolder(root, args.frames_per_clip, sampling="center", decode_size=size, transform=transform,
                         cache=True, cache_dir=cache_dir)
    clips = {p: center_clip_indices(infos[p].frames, args.frames_per_clip) for p in paths}

    def epoch(ds):
        for i in range(len(ds)):
            ds[i]

    epoch(plain)  # reads every header once (VideoFolder keeps the frame counts), as any first epoch does
    start = CLOCK()
    epoch(cached)  # decodes every video and fills the cache
    t_fill = CLOCK() - start
    t = timed({"raw": lambda i: raw_pyav_clip(paths[i], clips[paths[i]], size),
               "uncached": lambda i: plain[i],
               "cached": lambda i: cached[i]}, len(paths), args.repeats)
    t["fill"] = t_fill
    t["cache_mib"] = sum(f.stat().st_size for f in cache_dir.rglob("*.pt")) / 2**20
    return t


def print_table(label: str, t: dict, n: int) -> bool:
    rows = [
        ("raw PyAV, the same frames (reference)", t["raw"], None),
        ("VideoFolder, uncached", t["uncached"], 0.9),
        ("VideoFolder, first epoch with cache=True (fills it)", t["fill"], None),
        ("VideoFolder, cached epoch", t["cached"], None),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"\n== {label} ==")
    print(f"{'measurement':<{width}}  {'clips/s':>8}  {'vs reference':>12}")
    for name, seconds, target in rows:
        ratio = t["raw"] / seconds
        verdict = "" if target is None else f"  (target >= {target}x: {'PASS' if ratio >= target else 'FAIL'})"
        print(f"{name:<{width}}  {n / seconds:8.1f}  {ratio:11.2f}x{verdict}")
    speedup = t["uncached"] / t["cached"]
    print(f"cached epoch vs uncached epoch: {speedup:.1f}x faster (target >= 10x: {'PASS' if speedup >= 10 else 'FAIL'}); "
          f"cache on disk: {t['cache_mib']:.0f} MiB")
    return t["raw"] / t["uncached"] >= 0.9 and speedup >= 10


if __name__ == "__main__":
    sys.exit(main())
