"""Runtime comparison: the shipped MobileNets on ONNX Runtime against their TFLite originals (XNNPACK delegate).

For each model (ImageNet classifier, 1024-d embedder) every image is prepared once (`mobilenet.prepare`, not timed),
then run on both runtimes one after the other, alternating which goes first, so that a load elsewhere on the machine
weighs on both alike. The ONNX session is the project's own (`onnx_session`: CPU provider, full graph optimisation,
`threads` intra-op threads, idle workers not spinning); the TFLite interpreter gets `num_threads=threads` and, in
recent LiteRT builds, XNNPACK as its default CPU delegate: whether it was applied is read from the interpreter's
node list (a DELEGATE node) and reported, with the ops left on the built-in kernels. A timing covers input copy,
inference and output fetch; warm-up runs are not counted.

The TFLite files are not shipped (only the ONNX conversions are): they are read from ``--tflite-dir``
(default ``../shared/models/small``). `python -m service.runtime_compare FOLDER --limit 40 --threads 1` prints one
JSON object. Speed is measured here, never in unit tests.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from detectors.runtime.mobilenet import prepare
from service.bench import _pct

ROOT = Path(__file__).resolve().parent.parent
TFLITE_DIR = Path(os.environ.get("ASSETSCREEN_SHARED", ROOT.parent / "shared")) / "models" / "small"
MODELS = {"classifier": "mobilenet_v2", "embedder": "mobilenet_v1_embedder"}  # role -> weights/manifest.toml entry
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
WARMUP = 3
TFLITE_MISSING = "TFLite runtime not installed: pip install ai-edge-litert (the comparison needs it)"

Runner = Callable[[np.ndarray], np.ndarray]


def _ms(values: Sequence[float]) -> dict[str, float]:
    return {"median_ms": round(statistics.median(values), 2), "p95_ms": round(_pct(values, 0.95), 2)}


def onnx_paths() -> dict[str, Path]:
    """The shipped ONNX files, hash-checked against weights/manifest.toml."""
    from detectors.runtime.manifest import MANIFEST_NAME, load_manifest, verified_file
    from service.settings import WEIGHTS_DIR

    entries = load_manifest(WEIGHTS_DIR / MANIFEST_NAME)
    return {role: verified_file(WEIGHTS_DIR / entries[name].file, entries[name].sha256)
            for role, name in MODELS.items()}


def onnx_runner(path: Path, threads: int) -> Runner:
    """The project's own session (`onnx_session`)."""
    from detectors.runtime.yolo import onnx_session

    session = onnx_session(path, threads)
    name = session.get_inputs()[0].name
    return lambda batch: np.asarray(session.run(None, {name: batch})[0])


def xnnpack_info(interpreter: Any) -> dict[str, Any]:
    """Whether a delegate (XNNPACK, the only default CPU delegate) took nodes, and which ops it left out.

    A node is inside the delegate when it is reached walking back from the delegate's outputs without crossing
    its inputs. Reads LiteRT's private `_get_ops_details`, the only place the node list is exposed."""
    ops = interpreter._get_ops_details()
    delegates = [o for o in ops if o["op_name"] == "DELEGATE"]
    producer = {int(t): o for o in ops if o["op_name"] != "DELEGATE" for t in o["outputs"]}
    inside: set[int] = set()
    for d in delegates:
        stop = {int(t) for t in d["inputs"]}
        todo = [int(t) for t in d["outputs"]]
        while todo:
            t = todo.pop()
            node = producer.get(t)
            if t in stop or node is None or node["index"] in inside:
                continue
            inside.add(node["index"])
            todo.extend(int(x) for x in node["inputs"] if x >= 0)
    outside = [o["op_name"] for o in ops if o["op_name"] != "DELEGATE" and o["index"] not in inside]
    return {"applied": bool(delegates), "delegate_nodes": len(delegates), "ops_delegated": len(inside),
            "ops_outside_delegate": outside}


def tflite_runner(path: Path, threads: int) -> tuple[Runner, dict[str, Any]]:
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(path), num_threads=threads)
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]["index"]
    out = interp.get_output_details()[0]["index"]

    def run(batch: np.ndarray) -> np.ndarray:
        interp.set_tensor(inp, batch)
        interp.invoke()
        return interp.get_tensor(out)  # a copy, like ORT's output

    return run, xnnpack_info(interp)


def _agreement(role: str, ort: np.ndarray, tfl: np.ndarray) -> dict[str, float]:
    """ort, tfl: [n, d] raw uint8 outputs, one row per image."""
    a, b = ort.astype(np.float32), tfl.astype(np.float32)
    if role == "classifier":
        pa, pb = a / 256.0, b / 256.0  # probability = value / 256
        return {"top1_agreement": round(float(np.mean(pa.argmax(1) == pb.argmax(1))), 4),
                "max_abs_prob_diff": round(float(np.abs(pa - pb).max()), 4),
                "mean_abs_prob_diff": round(float(np.abs(pa - pb).mean()), 6)}
    ea = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-6)
    eb = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-6)
    cos = (ea * eb).sum(1)
    return {"mean_cosine": round(float(cos.mean()), 5), "min_cosine": round(float(cos.min()), 5)}


def _tflite_available() -> bool:
    try:
        import ai_edge_litert.interpreter  # noqa: F401
    except ImportError:
        return False
    return True


def compare_runtimes(images: list[np.ndarray], threads: int = 1, repeats: int = 3,
                     tflite_dir: Path = TFLITE_DIR) -> dict[str, Any]:
    """Per model: ORT and TFLite per-image latency (median, p95 over images x repeats, interleaved) and the
    agreement of their outputs. Without the TFLite runtime or file, ORT is still timed and `tflite_error` says
    why the comparison is missing."""
    if not images:
        raise ValueError("no images to compare on")
    batches = [prepare(rgb) for rgb in images]  # identical input for both runtimes, outside the timing
    result: dict[str, Any] = {
        "images": len(images), "threads": threads, "repeats": repeats, "warmup_runs": WARMUP,
        "ort_config": "project onnx_session (intra-op spinning off)",
        "method": "interleaved: per image, ORT and TFLite run back to back, alternating which goes first, so "
                  "other load on the machine affects both alike; preprocessing done once beforehand, not timed; "
                  "timing = input copy + inference + output fetch",
        "models": {},
    }
    tflite_ok = _tflite_available()
    if not tflite_ok:
        result["tflite_error"] = TFLITE_MISSING
    for role, onnx_path in onnx_paths().items():
        runners: dict[str, Runner] = {"onnxruntime": onnx_runner(onnx_path, threads)}
        entry: dict[str, Any] = {"onnx": onnx_path.name}
        tfl_path = tflite_dir / f"{onnx_path.stem}.tflite"
        if tflite_ok and not tfl_path.is_file():
            entry["tflite_error"] = f"TFLite model {tfl_path} not found (set --tflite-dir)"
        elif tflite_ok:
            runners["tflite"], entry["xnnpack"] = tflite_runner(tfl_path, threads)
            entry["tflite"] = tfl_path.name
        for run in runners.values():
            for _ in range(WARMUP):
                run(batches[0])
        times: dict[str, list[float]] = {k: [] for k in runners}
        outputs: dict[str, list[np.ndarray]] = {k: [] for k in runners}
        names = list(runners)
        for r in range(repeats):
            for i, batch in enumerate(batches):
                for k in names if (i + r) % 2 == 0 else names[::-1]:
                    t0 = time.perf_counter()
                    out = runners[k](batch)
                    times[k].append((time.perf_counter() - t0) * 1000)
                    if r == 0:
                        outputs[k].append(out.reshape(-1))
        for k in names:
            entry[k + "_ms"] = _ms(times[k])
        if "tflite" in runners:
            o, t = entry["onnxruntime_ms"]["median_ms"], entry["tflite_ms"]["median_ms"]
            entry["faster"] = "tflite" if t < o else "onnxruntime"
            entry["speedup_median"] = round(max(o, t) / max(min(o, t), 1e-9), 2)
            entry["agreement"] = _agreement(role, np.stack(outputs["onnxruntime"]), np.stack(outputs["tflite"]))
        result["models"][role] = entry
    return result


def load_images(folder: Path, limit: int) -> list[np.ndarray]:
    """The first `limit` images of `folder` (sorted by name), decoded with PIL as RGB."""
    from PIL import Image

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[:limit]
    images = []
    for f in files:
        with Image.open(f) as im:
            images.append(np.asarray(im.convert("RGB")))
    return images


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m service.runtime_compare", description=(__doc__ or "").split("\n")[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--limit", type=int, default=40)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tflite-dir", type=Path, default=TFLITE_DIR)
    args = ap.parse_args(argv)
    images = load_images(args.folder, args.limit)
    if not images:
        print(json.dumps({"error": f"no images in {args.folder}"}))
        return 2
    result = compare_runtimes(images, threads=args.threads, repeats=args.repeats, tflite_dir=args.tflite_dir)
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]  # a loaded machine inflates both alike
    print(json.dumps(result, indent=2))
    missing = "tflite_error" in result or any("tflite_error" in m for m in result["models"].values())
    return 3 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
