"""The shared OCR layer: detection and recognition shared per image, line reads cached, engines swappable."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from PIL import Image, ImageDraw

from datasets.synthetic_documents import _font
from detectors.base import ImageContext
from detectors.errors import DetectorUnavailable
from detectors.runtime.ocr import (
    LineRecognizer,
    OcrWord,
    Quad,
    RapidOcrEngine,
    ocr_words,
    read_quads,
    shared_ocr_engine,
    text_quads,
)


def _quad(x1: float, y1: float, x2: float, y2: float) -> Quad:
    return ((x1, y1), (x2, y1), (x2, y2), (x1, y2))


class CountingEngine:
    """A fake engine with line recognition that counts its calls; text is the quad's top-left corner."""

    name = "fake"
    version = "1"

    def __init__(self, quads: Sequence[Quad]) -> None:
        self.quads = list(quads)
        self.det_calls = 0
        self.recognised: list[Quad] = []
        self.seen_shapes: list[tuple[int, int]] = []

    def detect_text(self, rgb: np.ndarray) -> list[Quad]:
        self.det_calls += 1
        self.seen_shapes.append(rgb.shape[:2])
        return list(self.quads)

    def recognize(self, rgb: np.ndarray, quads: Sequence[Quad]) -> list[OcrWord | None]:
        self.recognised.extend(quads)
        return [OcrWord(text=f"w{int(q[0][0])}", score=0.9, quad=q) for q in quads]

    def read(self, rgb: np.ndarray) -> list[OcrWord]:  # pragma: no cover - not used when recognize exists
        raise AssertionError("read() should not be called for a line-recognising engine")


class ReadOnlyEngine:
    """An engine without `recognize` (as older fakes and other engines are)."""

    name = "readonly"
    version = "1"

    def __init__(self) -> None:
        self.reads = 0

    def detect_text(self, rgb: np.ndarray) -> list[Quad]:
        return [_quad(10, 10, 50, 20)]

    def read(self, rgb: np.ndarray) -> list[OcrWord]:
        self.reads += 1
        return [OcrWord(text="hello", score=0.8, quad=_quad(10, 10, 50, 20))]


def test_lines_are_read_once_and_reused_by_ocr_words() -> None:
    quads = [_quad(10, 10, 100, 20), _quad(10, 30, 100, 40), _quad(10, 50, 100, 60)]
    engine = CountingEngine(quads)
    assert isinstance(engine, LineRecognizer)
    ctx = ImageContext(rgb=np.zeros((100, 200, 3), np.uint8))
    first = read_quads(ctx, engine, quads[:2])
    assert [w.text for w in first if w] == ["w10", "w10"]
    words = ocr_words(ctx, engine)
    assert len(words) == 3
    # Detection ran once; each line was recognised exactly once across both calls.
    assert engine.det_calls == 1
    assert len(engine.recognised) == 3
    assert ocr_words(ctx, engine) is words
    assert "ocr" in ctx.timings_ms and "text_det" in ctx.timings_ms


def test_engine_without_recognize_falls_back_to_full_read() -> None:
    engine = ReadOnlyEngine()
    ctx = ImageContext(rgb=np.zeros((100, 200, 3), np.uint8))
    got = read_quads(ctx, engine, [_quad(10, 10, 50, 20), _quad(0, 0, 5, 5)])
    assert got[0] is not None and got[0].text == "hello"
    assert got[1] is None
    ocr_words(ctx, engine)
    assert engine.reads == 1


def test_text_quads_downscaled_detection_returns_image_pixels() -> None:
    engine = CountingEngine([_quad(100, 50, 300, 70)])
    ctx = ImageContext(rgb=np.zeros((1000, 2000, 3), np.uint8))
    quads = text_quads(ctx, engine, max_side=500)
    assert engine.seen_shapes == [(250, 500)]
    assert quads[0][0] == pytest.approx((400.0, 200.0))
    assert quads[0][2] == pytest.approx((1200.0, 280.0))
    # A full-resolution pass is a separate memo entry.
    text_quads(ctx, engine)
    assert engine.seen_shapes[-1] == (1000, 2000)


def _text_image(text: str) -> np.ndarray:
    img = Image.new("RGB", (900, 120), "white")
    ImageDraw.Draw(img).text((30, 30), text, font=_font(44, bold=True), fill="black")
    return np.asarray(img)


@pytest.fixture(scope="module")
def rapid() -> RapidOcrEngine:
    try:
        return RapidOcrEngine(threads=2, max_side=960)
    except DetectorUnavailable as exc:  # pragma: no cover - only an absent package skips; any other error fails
        pytest.skip(f"rapidocr not usable here: {exc}")


def test_rapidocr_detects_and_recognises_chosen_lines(rapid: RapidOcrEngine) -> None:
    rgb = _text_image("GOVERNMENT OF SINDH")
    quads = rapid.detect_text(rgb)
    assert len(quads) >= 1
    words = rapid.recognize(rgb, quads)
    text = " ".join(w.text for w in words if w is not None).upper()
    assert "GOVERNMENT" in text and "SINDH" in text


def test_rapidocr_blank_and_tiny_images_give_nothing(rapid: RapidOcrEngine) -> None:
    assert rapid.detect_text(np.full((300, 400, 3), 255, np.uint8)) == []
    assert rapid.detect_text(np.zeros((3, 3, 3), np.uint8)) == []
    assert rapid.read(np.zeros((3, 3, 3), np.uint8)) == []
    assert rapid.recognize(np.zeros((30, 30, 3), np.uint8), []) == []


def test_shared_engine_is_one_per_configuration() -> None:
    try:
        a = shared_ocr_engine("rapidocr", threads=1, max_side=640)
    except DetectorUnavailable as exc:  # pragma: no cover - only an absent package skips; any other error fails
        pytest.skip(f"rapidocr not usable here: {exc}")
    assert shared_ocr_engine("rapidocr", threads=1, max_side=640) is a
    with pytest.raises(Exception, match="unknown OCR engine"):
        shared_ocr_engine("nonexistent")
