"""YOLO object detection behind a small interface: Ultralytics ONNX exports on ONNX Runtime, `.pt` via Ultralytics.

Vehicles and uniforms both start from the same object pass (vehicle boxes, person boxes), and on a 2-core CPU
that pass is the second most expensive stage after OCR. So the model loads once per process
(`shared_yolo_runner`) and runs once per image (`objects(ctx, runner)`, memoised on the ImageContext and timed
under the "yolo" stage). Which model classes count as vehicles or persons is configuration
(`Settings.yolo.vehicle_classes` / `person_classes`), so a fine-tuned or Open Images model can be dropped in.

ONNX inference needs only onnxruntime, numpy and OpenCV. `.pt` files need the `train` extra (Ultralytics and
torch), imported lazily; without it the factory says so instead of failing at import time.
"""

from __future__ import annotations

import ast
import hashlib
import statistics
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from detectors.base import DetectorUnavailable, ImageContext

# Pixel value Ultralytics pads letterboxed images with.
LETTERBOX_FILL = 114
ENV_MODEL = "ASSETSCREEN_YOLO_MODEL"


@dataclass(frozen=True)
class Detection:
    """One detected object: class id and name from the model, score, xyxy box in image pixels."""

    class_id: int
    label: str
    score: float
    box: tuple[float, float, float, float]

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def area(self) -> float:
        return self.width * self.height

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "score": round(self.score, 3), "box": [round(v, 1) for v in self.box]}


@runtime_checkable
class YoloRunner(Protocol):
    name: str
    version: str
    names: dict[int, str]

    def detect(self, rgb: np.ndarray) -> list[Detection]: ...

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[list[Detection]]: ...


@dataclass(frozen=True)
class Letterbox:
    """How an image was fitted into the model input: scale, then padding (left, top)."""

    scale: float
    pad_x: float
    pad_y: float

    def to_image(self, boxes: np.ndarray, width: int, height: int) -> np.ndarray:
        """Model-input xyxy boxes back to image pixels, clipped to the image."""
        out = boxes.astype(np.float64).copy()
        out[:, [0, 2]] = (out[:, [0, 2]] - self.pad_x) / self.scale
        out[:, [1, 3]] = (out[:, [1, 3]] - self.pad_y) / self.scale
        out[:, [0, 2]] = out[:, [0, 2]].clip(0, width)
        out[:, [1, 3]] = out[:, [1, 3]].clip(0, height)
        return out


def letterbox(rgb: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping the aspect ratio and pad to `size` (height, width), centred, as Ultralytics does."""
    import cv2

    th, tw = size
    h, w = rgb.shape[:2]
    scale = min(th / h, tw / w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(rgb, (nw, nh), interpolation=interp) if (nh, nw) != (h, w) else rgb
    top, left = (th - nh) // 2, (tw - nw) // 2
    canvas = np.full((th, tw, 3), LETTERBOX_FILL, np.uint8)
    canvas[top : top + nh, left : left + nw] = resized
    return canvas, Letterbox(scale=scale, pad_x=float(left), pad_y=float(top))


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression (xyxy boxes), best first."""
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = np.maximum(0.0, x2 - x1) * np.maximum(0.0, y2 - y1)
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        xx1 = np.maximum(x1[i], x1[rest])
        yy1 = np.maximum(y1[i], y1[rest])
        xx2 = np.minimum(x2[i], x2[rest])
        yy2 = np.minimum(y2[i], y2[rest])
        inter = np.maximum(0.0, xx2 - xx1) * np.maximum(0.0, yy2 - yy1)
        union = areas[i] + areas[rest] - inter
        overlap = np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)
        order = rest[overlap <= iou]
    return np.asarray(keep, dtype=np.int64)


def batched_nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou: float) -> np.ndarray:
    """Class-aware NMS: boxes of different classes never suppress each other (offset trick)."""
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    offset = classes.astype(np.float64)[:, None] * (float(boxes.max()) + 1.0)
    return nms(boxes + offset, scores, iou)


def parse_names(raw: str | None) -> dict[int, str]:
    """Class names from an Ultralytics export's metadata (`names` is a dict literal: {0: 'person', ...})."""
    if not raw:
        return {}
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return {}
    if isinstance(value, dict):
        return {int(k): str(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return {i: str(v) for i, v in enumerate(value)}
    return {}


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def to_detections(
    img_boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, names: dict[int, str]
) -> list[Detection]:
    """Boxes in image pixels -> Detections, best first; boxes under a pixel wide or high are dropped."""
    out = []
    for b, s, c in zip(img_boxes, scores, classes, strict=True):
        if b[2] - b[0] < 1 or b[3] - b[1] < 1:
            continue
        cid = int(c)
        box = (float(b[0]), float(b[1]), float(b[2]), float(b[3]))
        out.append(Detection(cid, names.get(cid, str(cid)), float(min(max(s, 0.0), 1.0)), box))
    out.sort(key=lambda d: (-d.score, d.box))
    return out


def onnx_session(path: Path, threads: int) -> Any:
    """A CPU ONNX Runtime session with `threads` intra-op threads; DetectorUnavailable naming a bad file."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle intra-op threads would otherwise busy-wait after each run: with several sessions called in turn and
    # screening threads or worker processes beside them, that spinning takes the cores the next stage needs.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
        raise DetectorUnavailable("yolo", f"cannot load ONNX model {path}: {exc}", missing_file=str(path)) from None


class OnnxYoloRunner:
    """An Ultralytics detection export (YOLOv8/YOLO11 heads: [B, 4+nc, N]; or end-to-end [B, N, 6]) on ONNX Runtime.

    Input size comes from the model when its input shape is static, else from `imgsz`. Images are batched in one
    session call when the model's batch dimension is dynamic; a fixed-batch-1 export runs them one by one.
    """

    def __init__(
        self,
        model_path: str | Path,
        *,
        imgsz: int = 640,
        conf: float = 0.25,
        iou: float = 0.45,
        threads: int = 2,
        max_det: int = 300,
        session: Any | None = None,
    ) -> None:
        self.path = Path(model_path)
        self._session = session if session is not None else onnx_session(self.path, threads)
        meta = self._session.get_modelmeta().custom_metadata_map
        inp = self._session.get_inputs()[0]
        self._input_name = inp.name
        shape = list(inp.shape)
        h = shape[2] if len(shape) == 4 and isinstance(shape[2], int) else imgsz
        w = shape[3] if len(shape) == 4 and isinstance(shape[3], int) else imgsz
        self.input_size = (int(h), int(w))
        self.dynamic_batch = not (len(shape) == 4 and isinstance(shape[0], int))
        self.conf, self.iou, self.max_det = conf, iou, max_det
        self.names = parse_names(meta.get("names"))
        self.name = "yolo-onnx"
        self.version = f"{self.path.stem}-{file_sha256(self.path)[:8]}"
        self._lock = threading.Lock()

    def _prepare(self, rgb: np.ndarray) -> tuple[np.ndarray, Letterbox]:
        canvas, lb = letterbox(rgb, self.input_size)
        blob = canvas.transpose(2, 0, 1).astype(np.float32) * (1.0 / 255.0)
        return blob, lb

    def _decode(self, pred: np.ndarray, lb: Letterbox, width: int, height: int) -> list[Detection]:
        """One image's raw head output to detections in image pixels."""
        if pred.ndim != 2:
            return []
        channels = 4 + len(self.names) if self.names else None
        if channels is not None and pred.shape[0] != channels and pred.shape[1] == channels:
            pred = pred.T  # [N, 4+nc]: the transposed layout
        elif channels is None and pred.shape[0] > pred.shape[1]:
            pred = pred.T
        if pred.shape[0] != channels and pred.shape[-1] == 6:  # end-to-end export: x1,y1,x2,y2,score,class
            keep = pred[:, 4] >= self.conf
            boxes, scores, classes = pred[keep, :4], pred[keep, 4], pred[keep, 5].astype(np.int64)
        else:
            # [4+nc, N] from Ultralytics: cx, cy, w, h, then one score per class.
            cls_scores = pred[4:]
            classes = cls_scores.argmax(axis=0)
            scores = cls_scores[classes, np.arange(cls_scores.shape[1])]
            keep = scores >= self.conf
            cx, cy, bw, bh = (pred[i, keep] for i in range(4))
            boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
            scores, classes = scores[keep], classes[keep]
            idx = batched_nms(boxes, scores, classes, self.iou)[: self.max_det]
            boxes, scores, classes = boxes[idx], scores[idx], classes[idx]
        if len(boxes) == 0:
            return []
        return to_detections(lb.to_image(boxes, width, height), scores, classes, self.names)

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        return self.detect_batch([rgb])[0]

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        results: list[list[Detection]] = []
        step = len(images) if self.dynamic_batch else 1
        for start in range(0, len(images), max(step, 1)):
            chunk = images[start : start + max(step, 1)]
            prepared = [self._prepare(img) for img in chunk]
            blob = np.stack([p[0] for p in prepared])
            with self._lock:
                (raw, *_rest) = self._session.run(None, {self._input_name: blob})
            for k, img in enumerate(chunk):
                results.append(self._decode(np.asarray(raw[k]), prepared[k][1], img.shape[1], img.shape[0]))
        return results


class UltralyticsYoloRunner:
    """A `.pt` model through Ultralytics (needs the `train` extra: torch). Same output as the ONNX runner."""

    def __init__(self, model_path: str | Path, *, imgsz: int = 640, conf: float = 0.25, iou: float = 0.45) -> None:
        try:
            from ultralytics import YOLO
        except ImportError:
            raise DetectorUnavailable(
                "yolo",
                f"{model_path} is a PyTorch model and Ultralytics is not installed: pip install -e .[train], "
                "or export it to ONNX elsewhere and point ASSETSCREEN_YOLO_MODEL at the .onnx file",
                missing_file=str(model_path),
            ) from None
        self.path = Path(model_path)
        self._model = YOLO(str(self.path))
        self.names = {int(k): str(v) for k, v in dict(self._model.names).items()}
        self.imgsz, self.conf, self.iou = imgsz, conf, iou
        self.name = "yolo-ultralytics"
        self.version = f"{self.path.stem}-{file_sha256(self.path)[:8]}"
        self._lock = threading.Lock()

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        return self.detect_batch([rgb])[0]

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        bgr = [np.ascontiguousarray(img[:, :, ::-1]) for img in images]  # Ultralytics takes BGR arrays
        with self._lock:
            res = self._model.predict(bgr, imgsz=self.imgsz, conf=self.conf, iou=self.iou, verbose=False)
        out: list[list[Detection]] = []
        for r in res:
            dets = []
            for b, s, c in zip(r.boxes.xyxy.tolist(), r.boxes.conf.tolist(), r.boxes.cls.tolist(), strict=True):
                if b[2] - b[0] >= 1 and b[3] - b[1] >= 1:
                    cid = int(c)
                    dets.append(Detection(cid, self.names.get(cid, str(cid)), float(s), tuple(b)))  # type: ignore[arg-type]
            dets.sort(key=lambda d: (-d.score, d.box))
            out.append(dets)
        return out


def missing_model_message(path: Path) -> str:
    return (
        f"YOLO model file {path} is missing. Provide it with `assetscreen models fetch yolov8n` where the network "
        f"allows (needs `pip install -e .[train]`), or copy an Ultralytics ONNX export to {path}, or set "
        f"{ENV_MODEL}=/path/to/model.onnx"
    )


def load_runner(
    model_path: str | Path, *, imgsz: int = 640, conf: float = 0.25, iou: float = 0.45, threads: int = 2
) -> YoloRunner:
    """A runner for an ONNX (Ultralytics or YOLOX layout) or `.pt` file; DetectorUnavailable naming an absent file."""
    path = Path(model_path)
    if not path.is_file():
        raise DetectorUnavailable("yolo", missing_model_message(path), missing_file=str(path))
    if path.suffix.lower() == ".pt":
        return UltralyticsYoloRunner(path, imgsz=imgsz, conf=conf, iou=iou)
    from detectors.runtime.yolox import YoloxRunner, is_yolox_export

    session = onnx_session(path, threads)  # loaded once, then handed to the runner its output layout calls for
    if is_yolox_export(session.get_outputs()):  # the shipped Apache-2.0 model: another head layout and input format
        return YoloxRunner(path, conf=conf, iou=iou, threads=threads, session=session)
    return OnnxYoloRunner(path, imgsz=imgsz, conf=conf, iou=iou, threads=threads, session=session)


_shared_runners: dict[tuple[Any, ...], YoloRunner] = {}
_shared_lock = threading.Lock()


def shared_yolo_runner(yolo_settings: Any) -> YoloRunner:
    """One runner per process and model configuration (`Settings.yolo`), shared by vehicles and uniforms."""
    s = yolo_settings
    path = Path(s.model).expanduser()
    key = (str(path.resolve()), s.imgsz, s.conf, s.iou, s.threads)
    with _shared_lock:
        if key not in _shared_runners:
            if path.is_file():
                from detectors.runtime.manifest import verify_pinned

                verify_pinned(path)
            _shared_runners[key] = load_runner(path, imgsz=s.imgsz, conf=s.conf, iou=s.iou, threads=s.threads)
        return _shared_runners[key]


def check_classes(runner: YoloRunner, wanted: Iterable[str], role: str, detector: str) -> frozenset[str]:
    """The configured class names the model knows; DetectorUnavailable when it knows none of them."""
    wanted = list(wanted)
    known = set(runner.names.values())
    present = frozenset(c for c in wanted if c in known)
    if wanted and not present:
        raise DetectorUnavailable(
            detector,
            f"model {getattr(runner, 'version', '?')} has none of the {role} classes {wanted}; "
            f"set yolo.{role}_classes to names the model knows (e.g. {sorted(known)[:8]})",
        )
    return present


def objects(ctx: ImageContext, runner: YoloRunner) -> list[Detection]:
    """All objects in the image, detected once per image and runner, timed under stage "yolo"."""

    def run() -> list[Detection]:
        t0 = time.perf_counter()
        found = runner.detect(ctx.rgb) if min(ctx.rgb.shape[:2]) >= 2 else []
        ctx.timings_ms["yolo"] = ctx.timings_ms.get("yolo", 0.0) + (time.perf_counter() - t0) * 1000
        return found

    return ctx.memo(("yolo", id(runner)), run)


def benchmark(
    runner: YoloRunner, images: Sequence[np.ndarray] | None = None, *, repeats: int = 20, warmup: int = 2
) -> dict[str, float]:
    """Latency of one YOLO pass (preprocess + inference + NMS) per image, in ms; synthetic 640x480 by default."""
    if images is None:
        rng = np.random.default_rng(0)
        images = [rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)]
    for i in range(warmup):
        runner.detect(images[i % len(images)])
    times = []
    for i in range(max(repeats, 1)):
        img = images[i % len(images)]
        t0 = time.perf_counter()
        runner.detect(img)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {
        "images": float(len(times)),
        "median_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[min(len(times) - 1, round(0.95 * (len(times) - 1)))], 1),
        "max_ms": round(times[-1], 1),
    }


__all__ = [
    "Detection",
    "Letterbox",
    "OnnxYoloRunner",
    "UltralyticsYoloRunner",
    "YoloRunner",
    "benchmark",
    "check_classes",
    "letterbox",
    "load_runner",
    "nms",
    "objects",
    "shared_yolo_runner",
]


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m detectors.runtime.yolo MODEL [IMAGE...]`: latency of the YOLO stage, as JSON.

    Images are resized to 640 px on the long side first (the stage's budget is quoted at 640 px); without images
    a synthetic 640x480 frame is used.
    """
    import argparse
    import json

    import cv2

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("model")
    ap.add_argument("images", nargs="*")
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--side", type=int, default=640)
    args = ap.parse_args(argv)
    runner = load_runner(args.model, threads=args.threads)
    images = []
    for f in args.images:
        bgr = cv2.imread(f, cv2.IMREAD_COLOR)
        if bgr is None:
            continue
        s = args.side / max(bgr.shape[:2])
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        images.append(cv2.resize(rgb, (round(rgb.shape[1] * s), round(rgb.shape[0] * s)), interpolation=cv2.INTER_AREA))
    stats = benchmark(runner, images or None, repeats=args.repeats)
    print(json.dumps({"model": runner.version, "threads": args.threads, "side": args.side, **stats}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
