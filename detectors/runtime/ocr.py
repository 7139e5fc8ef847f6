"""OCR behind a small interface, so the engine can be swapped (RapidOCR by default, Tesseract or a fake in tests).

OCR is the most expensive stage on a CPU, and several detectors want it (documents, vehicle markings, name
plates). `ocr_words(ctx, engine)` runs it at most once per image and engine and records its cost under the
"ocr" stage of the image's timings.

The two halves are shared separately: `text_quads` (detection only, the cheap pass) and `read_quads`
(recognition of chosen lines, each line read at most once per image). An engine that implements `recognize`
builds `ocr_words` from those two, so a detector that first looked for text and read a few lines of it leaves
the rest of the work, not all of it, to the next detector.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from detectors.base import DetectorUnavailable, ImageContext, downscale


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


Quad = tuple[tuple[float, float], ...]


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


@runtime_checkable
class LineRecognizer(Protocol):
    """Optional engine capability: recognise given text lines only (None where nothing was read)."""

    def recognize(self, rgb: np.ndarray, quads: Sequence[Quad]) -> list[OcrWord | None]: ...


class RapidOcrEngine:
    """PP-OCR models shipped inside the `rapidocr` wheel, run with ONNX Runtime; offline.

    `max_side` bounds the longest side the text detector sees. RapidOCR's detector by default *upscales* the
    shorter side to 736 px, which makes a small image as slow as a large one; we set it to cap the longer side
    instead, so the cost follows the pixel count. Calls are serialised: RapidOCR keeps per-call options on
    the engine object.
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
        self.text_score = text_score
        params = {
            "Global.log_level": "error",
            "Global.text_score": text_score,
            "Global.max_side_len": max_side,
            "Det.limit_type": "max",
            "Det.limit_side_len": max_side,
            "EngineConfig.onnxruntime.intra_op_num_threads": threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
        self._engine = RapidOCR(params=params)
        self._lock = threading.Lock()

    def _scaled(self, rgb: np.ndarray, max_side: int | None = None) -> tuple[np.ndarray, float]:
        img, s = downscale(rgb, min(self.max_side, max_side or self.max_side))
        return np.ascontiguousarray(img[:, :, ::-1]), s  # RapidOCR takes BGR arrays

    def detect_text(self, rgb: np.ndarray, max_side: int | None = None) -> list[Quad]:
        """Text line outlines; `max_side` (at most the engine's) trades small text for speed."""
        if min(rgb.shape[:2]) < 8:
            return []
        bgr, s = self._scaled(rgb, max_side)
        with self._lock:
            out = self._engine(bgr, use_det=True, use_cls=False, use_rec=False)
        boxes = getattr(out, "boxes", None)
        if boxes is None:
            return []
        return [tuple((float(x) / s, float(y) / s) for x, y in quad) for quad in boxes]

    def recognize(self, rgb: np.ndarray, quads: Sequence[Quad]) -> list[OcrWord | None]:
        """Read the given text lines (image pixels), cropped from the full-resolution image."""
        if not quads:
            return []
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        crops = [_crop_line(bgr, q) for q in quads]
        with self._lock:
            out = self._engine.recognize_txt(crops)
        txts, scores = getattr(out, "txts", None) or (), getattr(out, "scores", None) or ()
        words: list[OcrWord | None] = []
        for quad, text, score in zip(quads, txts, scores, strict=False):
            text = str(text).strip()
            score = float(min(max(score, 0.0), 1.0))
            words.append(OcrWord(text=text, score=score, quad=tuple(quad)) if text and score >= self.text_score
                         else None)
        words.extend([None] * (len(quads) - len(words)))
        return words

    def read(self, rgb: np.ndarray) -> list[OcrWord]:
        if min(rgb.shape[:2]) < 8:
            return []
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


def _crop_line(bgr: np.ndarray, quad: Quad) -> np.ndarray:
    """A text line straightened to a rectangle (as PP-OCR crops it); tall crops are turned on their side."""
    import cv2

    pts = np.asarray(quad, dtype=np.float32).reshape(4, 2)
    w = max(2, int(round(max(np.linalg.norm(pts[0] - pts[1]), np.linalg.norm(pts[2] - pts[3])))))
    h = max(2, int(round(max(np.linalg.norm(pts[0] - pts[3]), np.linalg.norm(pts[1] - pts[2])))))
    dst = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    m = cv2.getPerspectiveTransform(pts, dst)
    crop = cv2.warpPerspective(bgr, m, (w, h), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC)
    if h / w >= 1.5:
        crop = np.rot90(crop)
    return np.ascontiguousarray(crop)


def _quad_key(quad: Quad) -> tuple[int, ...]:
    return tuple(int(round(v)) for p in quad for v in p)


def read_quads(ctx: ImageContext, engine: OcrEngine, quads: Sequence[Quad]) -> list[OcrWord | None]:
    """Recognise chosen text lines, each at most once per image and engine, timed under stage "ocr".

    Engines without `recognize` fall back to a full `ocr_words` pass and match its lines to the quads.
    """
    if ctx.ocr_held_back():
        return [None] * len(quads)
    if not isinstance(engine, LineRecognizer):
        by_key = {_quad_key(w.quad): w for w in ocr_words(ctx, engine)}
        return [by_key.get(_quad_key(q)) for q in quads]
    cache: dict[tuple[int, ...], OcrWord | None] = ctx.memo(("rec_lines", id(engine)), dict)
    todo = [q for q in dict.fromkeys(quads, None) if _quad_key(q) not in cache]
    if todo:
        t0 = time.perf_counter()
        for quad, word in zip(todo, engine.recognize(ctx.rgb, todo), strict=False):
            cache[_quad_key(quad)] = word
        ctx.timings_ms["ocr"] = ctx.timings_ms.get("ocr", 0.0) + (time.perf_counter() - t0) * 1000
    return [cache.get(_quad_key(q)) for q in quads]


def ocr_words(ctx: ImageContext, engine: OcrEngine) -> list[OcrWord]:
    """OCR of the whole image, computed once per image and engine, timed under stage "ocr".

    With a line-recognising engine this is `text_quads` + `read_quads`, so it reuses a detection pass and any
    lines another detector already read.
    """

    def run() -> list[OcrWord]:
        if isinstance(engine, LineRecognizer):
            quads = text_quads(ctx, engine)
            return [w for w in read_quads(ctx, engine, quads) if w is not None]
        t0 = time.perf_counter()
        words = engine.read(ctx.rgb)
        ctx.timings_ms["ocr"] = ctx.timings_ms.get("ocr", 0.0) + (time.perf_counter() - t0) * 1000
        return words

    if ctx.ocr_held_back():
        return []
    return ctx.memo(("ocr", id(engine)), run)


def text_quads(ctx: ImageContext, engine: OcrEngine, max_side: int | None = None) -> list[Quad]:
    """Text line outlines without recognition, once per image and engine, timed under stage "text_det".

    `max_side` runs detection on a downscaled copy (quads come back in image pixels): a page's lines are found
    at ~960 px; passing None uses the engine's own resolution and shares the result with `ocr_words`.
    """

    def run() -> list[Quad]:
        t0 = time.perf_counter()
        h, w = ctx.rgb.shape[:2]
        s = 1.0 if max_side is None else min(1.0, max_side / max(h, w))
        if s < 1.0:
            import cv2

            small = cv2.resize(ctx.rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
            quads = [tuple((x / s, y / s) for x, y in q) for q in engine.detect_text(small)]
        else:
            quads = engine.detect_text(ctx.rgb)
        ctx.timings_ms["text_det"] = ctx.timings_ms.get("text_det", 0.0) + (time.perf_counter() - t0) * 1000
        return quads

    if ctx.ocr_held_back():
        return []
    key = ("text_det", id(engine)) if max_side is None else ("text_det", id(engine), max_side)
    return ctx.memo(key, run)


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


def ocr_engine_for(settings: Any) -> OcrEngine:
    """The shared engine configured by `Settings.ocr`; raises DetectorUnavailable when it cannot be built."""
    cfg = settings.ocr
    return shared_ocr_engine(cfg.engine, threads=cfg.threads, max_side=cfg.max_side)


def optional_ocr_engine(settings: Any) -> OcrEngine | None:
    """The configured engine, or None where it cannot be built (cues that need it then report 'not checked')."""
    try:
        return ocr_engine_for(settings)
    except DetectorUnavailable:
        return None


def words_text(words: Sequence[OcrWord]) -> str:
    return "\n".join(w.text for w in words)
