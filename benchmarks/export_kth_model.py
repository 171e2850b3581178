"""Export chapter 14's KTH walking-vs-running model to ONNX for ``python -m course predict`` (chapter 15).

    python benchmarks/real_video.py --kth ROOT --save-model /tmp/kth.pt      # train the recipe, keep its weights
    python benchmarks/export_kth_model.py /tmp/kth.pt --kth ROOT              # -> course/models/pretrained/

CHECKPOINT holds ``{"state_dict", "config": dataclasses.asdict(RecipeConfig), "classes"}``. The script rebuilds the
model with ``course.train.real_video.build_model``, writes ``course/models/pretrained/kth_walking_running.onnx`` with
the model's clip spec (:class:`course.deploy.ClipSpec`, made from the same RecipeConfig) in its metadata, checks
ONNX-vs-PyTorch parity, and — with ``--kth`` — classifies every video of KTH's official test persons through the
deployment pipeline (PyAV + NumPy + onnxruntime, exactly what ``predict`` runs) and compares with the PyTorch
evaluation of chapter 14. It then records the file's SHA-256, size and accuracy in the checkpoint manifest.
The last line is ``RESULT {json}``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

import numpy as np  # noqa: E402
import torch  # noqa: E402

from course.deploy import ClipSpec, decode_frames, load_model, predict_video  # noqa: E402
from course.efficiency import export_onnx, onnx_max_abs_diff, ort_session  # noqa: E402
from course.models.pretrained import MANIFEST, PRETRAINED_DIR, sha256_of  # noqa: E402
from course.train import real_video  # noqa: E402

NAME = "kth_walking_running"


def load_checkpoint(path: Path) -> tuple[torch.nn.Module, ClipSpec, dict]:
    """The recipe's model and clip spec from a ``--save-model`` checkpoint -> (model in eval mode, spec, config)."""
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    missing = {"state_dict", "config", "classes"} - set(ckpt)
    if missing:
        raise SystemExit(f"error: {path}: not a recipe checkpoint (missing {sorted(missing)})")
    config = real_video.RecipeConfig(**ckpt["config"])
    model = real_video.build_model(len(ckpt["classes"]), config)
    model.load_state_dict(ckpt["state_dict"])
    first = torch.zeros(config.clip_len * config.step + 1, *config.decode_size, 3, dtype=torch.uint8)
    dataset = real_video.eval_loader([first], [0], config).dataset
    transform = getattr(dataset, "dataset", dataset).transform             # the evaluation's normalisation
    spec = ClipSpec.from_recipe(dict(ckpt["config"]), ckpt["classes"], mean=transform.mean, std=transform.std)
    return model.eval(), spec, dict(ckpt["config"])


def evaluate_deployed(onnx_path: Path, root: Path, model: torch.nn.Module, config: dict) -> dict:
    """Accuracy on KTH's test persons through ``predict``'s pipeline, beside the PyTorch evaluation of chapter 14."""
    split = real_video.find_kth_videos(root)
    videos = split.test or split.val
    deployed = load_model(onnx_path, threads=2)
    hits, seconds, probs = 0, [], []
    for path, label in videos:
        result = predict_video(deployed, path, top_k=1)
        hits += result["top"][0][0] == split.classes[label]
        seconds.append(result["seconds"])
        probs.append(deployed.probabilities(deployed.spec.clips(decode_frames(path, deployed.spec.decode_size))).mean(0))
    recipe = real_video.RecipeConfig(**config)
    frames = real_video.decode_videos([p for p, _ in videos], size=recipe.decode_size, progress=False)
    out = real_video.predict_videos(model, real_video.eval_loader(frames, [y for _, y in videos], recipe))
    torch_acc = float((out["video_probs"].argmax(1) == out["video_labels"]).float().mean())
    prob_diff = float(abs(np.stack(probs) - out["video_probs"].numpy()).max())
    return {"subset": "test" if split.test else "val", "videos": len(videos), "deployed_acc": hits / len(videos),
            "pytorch_acc": torch_acc, "max_video_prob_diff_vs_pytorch": prob_diff,
            "seconds_per_video": sum(seconds) / len(seconds)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--kth", type=Path, default=None, help="KTH folder: also measure the deployed accuracy")
    parser.add_argument("--out", type=Path, default=PRETRAINED_DIR / f"{NAME}.onnx")
    parser.add_argument("--no-manifest", action="store_true", help="do not touch the checkpoint manifest")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    started = time.perf_counter()
    model, spec, config = load_checkpoint(args.checkpoint)
    # Export and check a partial file beside the target, then rename it into place: a failed run leaves the shipped
    # model as it was (and the check does not meet the manifest's SHA-256 of the model being replaced).
    partial = args.out.with_name(args.out.name + ".partial")
    try:
        export_onnx(model, spec, partial)
        clips = torch.randn(4, *spec.input_shape)
        diff = onnx_max_abs_diff(model, ort_session(partial), clips)
        result = {"file": str(args.out), "bytes": partial.stat().st_size, "sha256": sha256_of(partial),
                  "onnx_max_abs_diff": diff, "clip_spec": spec.to_dict()}
        if args.kth is not None:
            result.update(evaluate_deployed(partial, args.kth, model, config))
        partial.replace(args.out)
    finally:
        partial.unlink(missing_ok=True)
    result["seconds"] = round(time.perf_counter() - started, 1)
    if not args.no_manifest and args.out.parent == PRETRAINED_DIR:
        path = PRETRAINED_DIR / MANIFEST
        manifest = json.loads(path.read_text(encoding="utf-8"))
        manifest[NAME] = {
            "file": args.out.name, "sha256": result["sha256"], "bytes": result["bytes"], "format": "onnx",
            "builder": "onnxruntime (python -m course predict; no PyTorch builder)", "classes": list(spec.classes),
            "clip_spec": spec.to_dict(),
            "dataset": {"name": "KTH walking vs running", "train_persons": "11-18 (official training persons)",
                        "selected_on": "validation persons 1, 4, 19-21, 23-25",
                        "reported_on": result.get("subset", "not measured"),
                        "retrained_on_train_and_val": bool(config.get("retrain", False))},
            "training": {"config": config, "command": "python benchmarks/real_video.py --kth ROOT --save-model CHECKPOINT",
                         "export": "python benchmarks/export_kth_model.py CHECKPOINT --kth ROOT"},
            "onnx_max_abs_diff": diff,
        }
        if result.get("subset") == "test":
            manifest[NAME].update(test_acc=result["deployed_acc"], pytorch_test_acc=result["pytorch_acc"])
        elif "subset" in result:  # no test persons here: the check compares the two pipelines, it is not held out
            seen = " (also in the final training: retrain=True)" if config.get("retrain") else ""
            manifest[NAME]["test_acc"] = None
            manifest[NAME]["pipeline_check"] = {
                "on": f"{result['videos']} videos of the {result['subset']} persons{seen}",
                "deployed_acc": result["deployed_acc"], "pytorch_acc": result["pytorch_acc"],
                "max_video_prob_diff": result["max_video_prob_diff_vs_pytorch"],
                "held_out_accuracy": "see course/results/real_video_kth.json (the recipe's own report)"}
        path.write_text(json.dumps(dict(sorted(manifest.items())), indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "clip_spec"}, indent=2))
    print("RESULT " + json.dumps({k: v for k, v in result.items() if k != "clip_spec"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
