"""YOLOX-nano (Megvii, Apache-2.0) on ONNX Runtime: the shipped object model behind vehicles and uniforms.

The Ultralytics models are AGPL and cannot ship, so a fresh install uses this redistributable COCO detector
(`weights/yolox_nano.onnx`). It has the `YoloRunner` interface of `detectors.runtime.yolo`, so detectors do not
care which model found a box.

The export takes float32 NCHW BGR 0..255 (no normalisation), letterboxed at the top-left and padded with 114, and
returns raw grid predictions [1, N, 85]: per anchor point cx, cy, w, h (offsets and log sizes at strides 8, 16
and 32), objectness, then 80 class scores (already sigmoid-activated in this export).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from detectors.base import DetectorUnavailable
from detectors.runtime.yolo import (
    LETTERBOX_FILL,
    Detection,
    Letterbox,
    batched_nms,
    file_sha256,
    onnx_session,
    to_detections,
)

STRIDES = (8, 16, 32)
# coco_classes.txt uses VOC spellings for a few classes; detectors and settings speak COCO names.
VOC_TO_COCO = {
    "motorbike": "motorcycle",
    "aeroplane": "airplane",
    "sofa": "couch",
    "pottedplant": "potted plant",
    "diningtable": "dining table",
    "tvmonitor": "tv",
}


def read_class_names(path: Path) -> dict[int, str]:
    if not path.is_file():
        raise DetectorUnavailable(
            "yolo", f"class list {path} is missing (it ships beside the model)", missing_file=str(path)
        )
    names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {i: VOC_TO_COCO.get(n, n) for i, n in enumerate(names)}


def top_left_letterbox(bgr: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping the aspect ratio and paste at the top-left of a (height, width) canvas filled with 114."""
    import cv2

    th, tw = size
    h, w = bgr.shape[:2]
    scale = min(th / h, tw / w)
    nh, nw = max(1, min(th, round(h * scale))), max(1, min(tw, round(w * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(bgr, (nw, nh), interpolation=interp) if (nh, nw) != (h, w) else bgr
    canvas = np.full((th, tw, 3), LETTERBOX_FILL, np.uint8)
    canvas[:nh, :nw] = resized
    return canvas, Letterbox(scale=scale, pad_x=0.0, pad_y=0.0)


def grids(size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Grid cell offsets [N, 2] and strides [N, 1] in the order the export lays its anchor points out."""
    h, w = size
    cells, strides = [], []
    for s in STRIDES:
        gy, gx = np.meshgrid(np.arange(h // s), np.arange(w // s), indexing="ij")
        cells.append(np.stack([gx.ravel(), gy.ravel()], axis=1))
        strides.append(np.full((cells[-1].shape[0], 1), s))
    return np.concatenate(cells).astype(np.float32), np.concatenate(strides).astype(np.float32)


class YoloxRunner:
    """YOLOX ONNX export -> `Detection`s in image pixels (score = objectness x class score, class-aware NMS)."""

    def __init__(
        self,
        model_path: str | Path,
        *,
        classes_path: str | Path | None = None,
        conf: float = 0.25,
        iou: float = 0.45,
        threads: int = 2,
        max_det: int = 300,
        session: Any | None = None,
    ) -> None:
        self.path = Path(model_path)
        self._session = session if session is not None else onnx_session(self.path, threads)
        inp = self._session.get_inputs()[0]
        self._input_name = inp.name
        self.input_size = (int(inp.shape[2]), int(inp.shape[3]))
        self._cells, self._strides = grids(self.input_size)
        self.names = read_class_names(Path(classes_path) if classes_path else self.path.parent / "coco_classes.txt")
        self.conf, self.iou, self.max_det = conf, iou, max_det
        self.name = "yolox-onnx"
        self.version = f"{self.path.stem}-{file_sha256(self.path)[:8]}"
        self._lock = threading.Lock()

    def _decode(self, raw: np.ndarray, lb: Letterbox, width: int, height: int) -> list[Detection]:
        if raw.shape[0] != self._cells.shape[0] or raw.shape[1] != 5 + len(self.names):
            raise DetectorUnavailable("yolo", f"{self.path} does not give YOLOX output [N, 85]: got {raw.shape}")
        cls = raw[:, 5:]
        classes = cls.argmax(axis=1)
        scores = raw[:, 4] * cls[np.arange(len(cls)), classes]
        keep = scores >= self.conf
        if not keep.any():
            return []
        xy = (raw[keep, :2] + self._cells[keep]) * self._strides[keep]
        wh = np.exp(np.clip(raw[keep, 2:4], -10, 10)) * self._strides[keep]
        boxes = np.concatenate([xy - wh / 2, xy + wh / 2], axis=1)
        scores, classes = scores[keep], classes[keep]
        idx = batched_nms(boxes, scores, classes, self.iou)[: self.max_det]
        return to_detections(lb.to_image(boxes[idx], width, height), scores[idx], classes[idx], self.names)

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        canvas, lb = top_left_letterbox(np.ascontiguousarray(rgb[:, :, ::-1]), self.input_size)
        blob = canvas.transpose(2, 0, 1)[None].astype(np.float32)
        with self._lock:
            (raw, *_rest) = self._session.run(None, {self._input_name: blob})
        return self._decode(np.asarray(raw[0]), lb, rgb.shape[1], rgb.shape[0])

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        return [self.detect(img) for img in images]


def is_yolox_export(session_outputs: Sequence[object]) -> bool:
    """True for an ONNX model whose single output is [1, N, 85] (YOLOX layout), not Ultralytics [1, 84, N]."""
    shapes = [getattr(o, "shape", None) for o in session_outputs]
    return len(shapes) == 1 and isinstance(shapes[0], list) and len(shapes[0]) == 3 and shapes[0][2] == 85


__all__ = ["YoloxRunner", "is_yolox_export", "read_class_names", "top_left_letterbox"]
