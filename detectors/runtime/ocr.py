"""OCR behind a small interface, so the engine can be swapped (RapidOCR by default, Tesseract or a fake in tests).

OCR is the most expensive stage on a CPU, and several detectors want it (documents, vehicle markings, name
plates). `ocr_words(ctx, engine)` runs it at most once per image and engine and records its cost under the
"ocr" stage of the image's timings.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from detectors.base import DetectorUnavailable, ImageContext


@dataclass(frozen=True)
class OcrWord:
    """One recognised text line: its quadrilateral (4 x,y points, image pixels), text and confidence."""

    text: str
    score: float
    quad: tuple[tuple[float, float], ...]

    @property
    def box(self) -> tuple[float, float, float, float]:
        xs = [p[0] for p in self.quad]
        ys = [p[1] for p in self.quad]
        return (min(xs), min(ys), max(xs), max(ys))

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "score": round(self.score, 3), "box": [round(v, 1) for v in self.box]}


@runtime_checkable
class OcrEngine(Protocol):
    name: str
    version: str

    def detect_text(self, rgb: np.ndarray) -> list[tuple[tuple[float, float], ...]]:
        """Text line quadrilaterals only (no recognition): the cheap pass."""
        ...

    def read(self, rgb: np.ndarray) -> list[OcrWord]:
        """Detect and recognise text lines."""
        ...


class RapidOcrEngine:
    """PP-OCR models shipped inside the `rapidocr` wheel, run with ONNX Runtime; offline.

    `max_side` downscales large photos before detection: PP-OCR's detector works at ~1000 px anyway and the cost
    grows with the pixel count. Calls are serialised: RapidOCR keeps per-call options on the engine object.
    """

    name = "rapidocr"

    def __init__(self, *, threads: int = 2, max_side: int = 1280, text_score: float = 0.5) -> None:
        try:
            import rapidocr
            from rapidocr import RapidOCR
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise DetectorUnavailable(
                "ocr", "the rapidocr package is not installed: pip install 'rapidocr>=3,<4' onnxruntime"
            ) from exc
        self.version = f"rapidocr-{getattr(rapidocr, '__version__', '3')}"
        self.max_side = max_side
        params = {
            "Global.log_level": "error",
            "Global.text_score": text_score,
            "Global.max_side_len": max_side,
            "EngineConfig.onnxruntime.intra_op_num_threads": threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
        self._engine = RapidOCR(params=params)
        self._lock = threading.Lock()

    def _scaled(self, rgb: np.ndarray) -> tuple[np.ndarray, float]:
        import cv2

        h, w = rgb.shape[:2]
        s = min(1.0, self.max_side / max(h, w))
        img = rgb if s >= 1.0 else cv2.resize(rgb, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(img[:, :, ::-1]), s  # RapidOCR takes BGR arrays

    def detect_text(self, rgb: np.ndarray) -> list[tuple[tuple[float, float], ...]]:
        bgr, s = self._scaled(rgb)
        with self._lock:
            out = self._engine(bgr, use_det=True, use_cls=False, use_rec=False)
        boxes = getattr(out, "boxes", None)
        if boxes is None:
            return []
        return [tuple((float(x) / s, float(y) / s) for x, y in quad) for quad in boxes]

    def read(self, rgb: np.ndarray) -> list[OcrWord]:
        bgr, s = self._scaled(rgb)
        with self._lock:
            out = self._engine(bgr, use_det=True, use_cls=False, use_rec=True)
        boxes, txts, scores = getattr(out, "boxes", None), getattr(out, "txts", None), getattr(out, "scores", None)
        if boxes is None or txts is None:
            return []
        words = []
        for quad, text, score in zip(boxes, txts, scores or [], strict=False):
            text = str(text).strip()
            if text:
                q = tuple((float(x) / s, float(y) / s) for x, y in quad)
                words.append(OcrWord(text=text, score=float(min(max(score, 0.0), 1.0)), quad=q))
        return words


def ocr_words(ctx: ImageContext, engine: OcrEngine) -> list[OcrWord]:
    """OCR of the whole image, computed once per image and engine, timed under stage "ocr"."""

    def run() -> list[OcrWord]:
        t0 = time.perf_counter()
        words = engine.read(ctx.rgb)
        ctx.timings_ms["ocr"] = ctx.timings_ms.get("ocr", 0.0) + (time.perf_counter() - t0) * 1000
        return words

    return ctx.memo(("ocr", id(engine)), run)


def text_quads(ctx: ImageContext, engine: OcrEngine) -> list[tuple[tuple[float, float], ...]]:
    """Text line outlines without recognition, once per image and engine, timed under stage "text_det"."""

    def run() -> list[tuple[tuple[float, float], ...]]:
        t0 = time.perf_counter()
        quads = engine.detect_text(ctx.rgb)
        ctx.timings_ms["text_det"] = ctx.timings_ms.get("text_det", 0.0) + (time.perf_counter() - t0) * 1000
        return quads

    return ctx.memo(("text_det", id(engine)), run)


_shared_engines: dict[str, OcrEngine] = {}
_shared_lock = threading.Lock()


def shared_ocr_engine(name: str = "rapidocr", **options: Any) -> OcrEngine:
    """One OCR engine per process and configuration, shared by every detector that reads text."""
    key = name + repr(sorted(options.items()))
    with _shared_lock:
        if key not in _shared_engines:
            if name != "rapidocr":
                raise DetectorUnavailable("ocr", f"unknown OCR engine {name!r}; known: rapidocr")
            _shared_engines[key] = RapidOcrEngine(**options)
        return _shared_engines[key]


def words_text(words: Sequence[OcrWord]) -> str:
    return "\n".join(w.text for w in words)
