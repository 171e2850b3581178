"""Chapter 15's benchmark: one trained small 3D CNN made smaller and faster, every variant measured the same way.

    python benchmarks/efficient_inference.py            # the recorded run (<= 10 min on 2 CPU cores)
    python benchmarks/efficient_inference.py --quick    # a fast check of the script itself (not recorded)

The teacher is the shipped ``c3d_small_moving_shapes`` (chapter 06's task: 10 classes of moving shapes, 16 x 32 x 32
clips). Variants: PyTorch eager float32; eager int8 (``torch.ao.quantization``, x86 backend); onnxruntime float32 and
int8 (static QDQ); unstructured magnitude pruning; structured channel pruning at 25/50/75% of channels removed, each
fine-tuned; a student a quarter of the size trained from labels only or with distillation, over 3 seeds. Latency is
p50 at batch 1 on 1 thread after a warm-up; throughput at batch 8. Also: per-layer int8 sensitivity and a full-size
``r3d_18`` (16 x 112 x 112, random weights: latency only). Choices made before measuring: the reported pruned model
is the 50% one; the deployed model is the fastest onnxruntime variant whose validation accuracy is within 1 point of
the float32 model's.

The table and everything else go to ``course/results/efficient_inference.json`` (chapter 15 shows it); the last line
is ``RESULT {json}``.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

import torch  # noqa: E402

from course.efficiency import (count_params, export_onnx, magnitude_prune, onnx_max_abs_diff, ort_session,  # noqa: E402
                               prune_channels, quantizable_layers, quantize_eager, quantize_onnx_int8, saved_bytes,
                               sparsity)
from course.efficiency.study import (TABLE_COLUMNS, accuracy, fine_tune, format_table,  # noqa: E402
                                     gpu_latency_rows, measure, moving_shapes_task, ort_predict, torch_predict,
                                     train_student)
from course.config import data_dir  # noqa: E402
from course.models import load_pretrained  # noqa: E402
from course.timing import latency  # noqa: E402
from course.train.recorded import save_record  # noqa: E402

NAME = "efficient_inference"


def _log(t0, text):
    print(f"[{time.perf_counter() - t0:6.1f} s] {text}", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes; nothing is recorded")
    parser.add_argument("--threads", type=int, default=1, help="threads for the latency table (default 1)")
    parser.add_argument("--train-threads", type=int, default=2, help="threads for fine-tuning and students")
    parser.add_argument("--no-save", action="store_true")
    parser.add_argument("--gpu-only", action="store_true", help="on a CUDA machine: only the GPU latency table of the "
                        "small C3D and r3d_18, recorded as course/results/efficient_inference_gpu.json")
    args = parser.parse_args(argv)
    quick = args.quick
    t0 = time.perf_counter()
    if args.gpu_only:
        return gpu_only(argv)
    sizes = dict(train=96, val=64, test=64) if quick else dict(train=1200, val=200, test=400)
    runs = 5 if quick else 40
    prune_epochs, student_epochs, seeds = (1, 1, [0]) if quick else (3, 8, [0, 1, 2])
    torch.set_num_threads(args.train_threads)
    task = moving_shapes_task(**sizes)
    _log(t0, f"rendered {sizes} clips")
    teacher = load_pretrained("c3d_small_moving_shapes")
    calibration = task.train_x[:128]
    rows, extra = [], {}

    def row(name, predict, model_or_path, params, **kw):
        r = measure(name, predict, task, params=params, nbytes=saved_bytes(model_or_path), threads=args.threads,
                    runs=runs)
        r["val_acc"] = accuracy(predict, task.val_x, task.val_y)
        r.update(kw)
        rows.append(r)
        _log(t0, f"{name}: p50 {r['p50_ms']:.2f} ms, acc {r['acc']:.1%}")
        return r

    params = count_params(teacher)
    fp32 = row("PyTorch float32", torch_predict(teacher), teacher, params)
    extra["fp16_mb"] = saved_bytes(teacher, dtype=torch.float16) / 1e6
    int8_model = quantize_eager(teacher, calibration)
    int8 = row("PyTorch int8 (torch.ao, x86)", torch_predict(int8_model), int8_model, count_params(int8_model))

    work = data_dir("efficient_inference_benchmark")   # exported models: in the course's data cache
    onnx_path = export_onnx(teacher, None, work / "c3d_small.onnx", example=task.test_x[:2])
    session = ort_session(onnx_path, threads=args.threads)
    diff = onnx_max_abs_diff(teacher, session, task.test_x[:32])
    ort32 = row("onnxruntime float32", ort_predict(session), onnx_path, params)
    q_path = quantize_onnx_int8(onnx_path, work / "c3d_small_int8.onnx", calibration)
    ort8 = row("onnxruntime int8 (QDQ)", ort_predict(ort_session(q_path, threads=args.threads)), q_path, params)

    # per-layer sensitivity: each stage quantized alone
    with torch.inference_mode():
        reference = teacher(task.test_x)
    sensitivity = []
    for layer in quantizable_layers(teacher):
        alone = quantize_eager(teacher, calibration, layers=[layer])
        with torch.inference_mode():
            logits = alone(task.test_x)
        sensitivity.append({"layer": layer, "acc": float((logits.argmax(1) == task.test_y).float().mean()),
                            "mean_abs_logit_error": float((logits - reference).abs().mean())})
    _log(t0, "per-layer sensitivity done")

    # pruning: unstructured (zeros, same shapes) then structured (thinner layers) with fine-tuning
    sparse = magnitude_prune(teacher, 0.5)
    row("magnitude-pruned 50% (zeros)", torch_predict(sparse), sparse, params, sparsity=sparsity(sparse))
    pruned_rows = {}
    for fraction in (0.25, 0.5, 0.75):
        thin = prune_channels(teacher, fraction)
        before = accuracy(torch_predict(thin), task.test_x, task.test_y)
        fine_tune(thin.train(), task.train_x, task.train_y, epochs=prune_epochs, lr=1e-3)
        pruned_rows[fraction] = row(f"channels -{int(fraction * 100)}% + fine-tune", torch_predict(thin), thin,
                                    count_params(thin), acc_before_fine_tune=before, fraction=fraction)
        if fraction == 0.5:
            pruned_model = thin
    pruned_path = export_onnx(pruned_model, None, work / "pruned50.onnx", example=task.test_x[:2])
    ortp = row("onnxruntime channels -50%", ort_predict(ort_session(pruned_path, threads=args.threads)),
               pruned_path, count_params(pruned_model))

    # distillation: same data, epochs and seeds, labels only vs with the teacher
    students = {"labels": [], "kd": []}
    for seed in seeds:
        for kind in ("labels", "kd"):
            student, acc = train_student(task, teacher=teacher if kind == "kd" else None, epochs=student_epochs,
                                         seed=seed)
            students[kind].append(acc)
            _log(t0, f"student {kind} seed {seed}: {acc:.1%}")
    row("student (1/4 size, distilled, seed 0)" if len(seeds) == 1 else f"student (1/4 size, distilled, seed {seeds[-1]})",
        torch_predict(student), student, count_params(student))

    # the full-size model: latency only (random weights), batch 1, PyTorch vs onnxruntime float32 / int8
    from course.models import r3d_18

    big = r3d_18(num_classes=400).eval()
    clip = torch.randn(1, 3, 16, 112, 112)
    big_runs = 2 if quick else 5
    with torch.inference_mode():
        r3d = {"pytorch_fp32_ms": latency(lambda: big(clip), warmup=1, runs=big_runs, threads=args.threads).p50 * 1e3}
    big_path = export_onnx(big, None, work / "r3d_18.onnx", example=clip)
    big_session = ort_session(big_path, threads=args.threads)
    r3d["ort_fp32_ms"] = latency(lambda: big_session.run(None, {"clips": clip.numpy()}), warmup=1, runs=big_runs,
                                 threads=args.threads).p50 * 1e3
    big_q = quantize_onnx_int8(big_path, work / "r3d_18_int8.onnx", torch.randn(4, 3, 16, 112, 112))
    big_q_session = ort_session(big_q, threads=args.threads)
    r3d["ort_int8_ms"] = latency(lambda: big_q_session.run(None, {"clips": clip.numpy()}), warmup=1, runs=big_runs,
                                 threads=args.threads).p50 * 1e3
    r3d["fp32_mb"], r3d["int8_mb"] = saved_bytes(big_path) / 1e6, saved_bytes(big_q) / 1e6
    _log(t0, f"r3d_18: {r3d}")

    candidates = [r for r in (ort32, ort8, ortp) if r["val_acc"] >= fp32["val_acc"] - 0.01]
    deployed = min(candidates, key=lambda r: r["p50_ms"]) if candidates else ort32
    pruned = pruned_rows[0.5]
    result = {
        "fp32_ms": fp32["p50_ms"], "int8_ms": int8["p50_ms"], "int8_acc_drop": fp32["acc"] - int8["acc"],
        "int8_size_ratio": fp32["mb"] / int8["mb"], "deployed": deployed["variant"], "deployed_ms": deployed["p50_ms"],
        "deployed_acc_drop": fp32["acc"] - deployed["acc"], "deployed_speedup": fp32["p50_ms"] / deployed["p50_ms"],
        "pruned_ms": pruned["p50_ms"], "pruned_acc_drop": fp32["acc"] - pruned["acc"],
        "pruned_speedup": fp32["p50_ms"] / pruned["p50_ms"],
        "student_kd_acc": sum(students["kd"]) / len(seeds), "student_labels_acc": sum(students["labels"]) / len(seeds),
        "onnx_max_abs_diff": diff, "seconds": round(time.perf_counter() - t0, 1),
    }
    print()
    print(format_table(rows))
    print("\nper-layer int8 sensitivity (that layer alone in int8):")
    for s in sensitivity:
        print(f"  {s['layer']:<7} acc {s['acc']:.1%}  mean |logit error| {s['mean_abs_logit_error']:.3f}")
    print(f"\nstudents (test acc per seed): labels {students['labels']}, distilled {students['kd']}")
    print(f"r3d_18 16x112x112 batch 1, {args.threads} thread(s): {r3d}")
    if not quick and not args.no_save:
        load = os.getloadavg()
        record = {
            "command": "python benchmarks/efficient_inference.py" + "".join(" " + shlex.quote(a) for a in (argv or sys.argv[1:])),
            "device": "cpu", "machine": f"{platform.machine()} {platform.processor() or ''} "
                                        f"({os.cpu_count()} logical CPUs)".replace("  ", " "),
            "threads": args.threads, "train_threads": args.train_threads,
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "load_average_1_5_15": [round(v, 2) for v in load],
            "torch": torch.__version__, "onnxruntime": __import__("onnxruntime").__version__,
            "sizes": sizes, "runs": rows, "fp16_mb": extra["fp16_mb"], "sensitivity": sensitivity,
            "students": students, "student_epochs": student_epochs, "prune_epochs": prune_epochs,
            "r3d_18": r3d, "result": result,
        }
        print(f"\nrecorded {save_record(record, NAME)}")
    print("RESULT " + json.dumps(result))
    return 0


def gpu_only(argv) -> int:
    """The chapter's latency table on CUDA: float32, float16/bfloat16 autocast, channels_last_3d."""
    from course.models import r3d_18

    if not torch.cuda.is_available():
        print("error: --gpu-only needs a CUDA GPU; none is visible", file=sys.stderr)
        return 1
    task = moving_shapes_task(8, 8, 32)
    rows = [dict(r, model="c3d_small 16x32x32") for r in
            gpu_latency_rows(load_pretrained("c3d_small_moving_shapes"), task.test_x[:32])]
    rows += [dict(r, model="r3d_18 16x112x112") for r in
             gpu_latency_rows(r3d_18(num_classes=400), torch.randn(8, 3, 16, 112, 112), runs=30)]
    columns = (("model", "model", "{}"),) + tuple(c for c in TABLE_COLUMNS
                                                  if c[0] in ("variant", "p50_ms", "p90_ms", "clips_per_s"))
    print(format_table(rows, columns=columns))
    record = {"command": "python benchmarks/efficient_inference.py --gpu-only", "device": rows[0]["device"],
              "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "torch": torch.__version__, "runs": rows}
    if "--no-save" not in (argv or sys.argv[1:]):
        print(f"recorded {save_record(record, NAME + '_gpu')}")
    print("RESULT " + json.dumps({r["model"] + " " + r["variant"]: round(r["p50_ms"], 3) for r in rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
