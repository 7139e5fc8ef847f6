"""Documents detector: page finding, marker judging, evidence, config, and recall on generated document photos."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest

from datasets.synthetic_documents import photograph, plain_photo, render_page, scan, signboard_photo
from detectors.base import ImageContext
from detectors.documents import (
    DocumentDetector,
    DocumentOptions,
    Line,
    MarkerSet,
    build,
    find_stamps,
    next_lines,
    normalise,
    text_row_count,
)
from detectors.errors import ConfigError, DetectorUnavailable
from detectors.runtime.ocr import OcrWord, Quad, RapidOcrEngine
from service.settings import Settings
from tests.contract import ImageDetectorContract

# ------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def markers() -> MarkerSet:
    return MarkerSet.load()


@pytest.fixture(scope="module")
def real_detector() -> DocumentDetector:
    try:
        return build(Settings())
    except DetectorUnavailable as exc:  # pragma: no cover - only an absent OCR package skips; any other error fails
        pytest.skip(f"documents detector cannot be built here: {exc}")


class TestDocumentContract(ImageDetectorContract):
    def make_detector(self) -> DocumentDetector:
        try:
            return build(Settings())
        except DetectorUnavailable as exc:  # pragma: no cover - only an absent OCR package skips
            pytest.skip(f"documents detector cannot be built here: {exc}")


class ScriptedEngine:
    """A fake OCR engine: fixed text lines at fixed places, so judging is tested without OCR noise."""

    name = "scripted"
    version = "1"

    def __init__(self, lines: Sequence[tuple[str, Quad]]) -> None:
        self.lines = list(lines)

    def detect_text(self, rgb: np.ndarray) -> list[Quad]:
        return [q for _, q in self.lines]

    def recognize(self, rgb: np.ndarray, quads: Sequence[Quad]) -> list[OcrWord | None]:
        out: list[OcrWord | None] = []
        for q in quads:
            # Match the (possibly shortened) reading quad by its first corner.
            text = next((t for t, lq in self.lines if np.allclose(lq[0], q[0])), None)
            out.append(None if text is None else OcrWord(text=text, score=0.95, quad=q))
        return out

    def read(self, rgb: np.ndarray) -> list[OcrWord]:  # pragma: no cover - recognize is used
        return [OcrWord(text=t, score=0.95, quad=q) for t, q in self.lines]


def _page_lines(texts: Sequence[str], x: float = 100, y: float = 60, h: float = 14, w: float = 420
                ) -> list[tuple[str, Quad]]:
    out = []
    for i, t in enumerate(texts):
        top = y + i * 2.2 * h
        out.append((t, ((x, top), (x + w, top), (x + w, top + h), (x, top + h))))
    return out


BODY = [f"Body line {i} about the schedule of the committee meeting and its record." for i in range(14)]

# ------------------------------------------------------------------------------------------ markers


@pytest.mark.parametrize("line", [
    "No. SO(IX)CMS/Misc/07-07/2025",
    "F. No. 14/3/2022-D-II",
    "GOVERNMENT OF SINDH",
    "Govt. of the Punjab",
    "FIRST INFORMATIONREPORT",
    "IPL-10827",
    "حکومت سندھ",
])
def test_strong_markers_decide_alone(markers: MarkerSet, line: str) -> None:
    hits = markers.match([line])
    assert hits, f"no marker matched {line!r}"
    assert markers.score(hits) >= markers.threshold


@pytest.mark.parametrize("lines", [
    ["INVOICE", "Sunrise Traders (Pvt) Ltd", "Total amount payable"],
    ["my office looks like Captain Picard's ready room"],
    ["No 564789 dated 12.06.1970"],
    ["Meeting minutes", "Accounts Manager"],
])
def test_private_text_is_not_official(markers: MarkerSet, lines: list[str]) -> None:
    assert markers.score(markers.match(lines)) < markers.threshold


def test_weak_markers_need_company(markers: MarkerSet) -> None:
    one_rank = markers.match(["Team Captain will report"])
    assert 0 < markers.score(one_rank) < markers.threshold
    assert markers.score(one_rank, stamp=True) < markers.threshold
    ranks = markers.match(["1 x Captain", "1 x Sergeant", "1 x Corporal"])
    assert markers.score(ranks) >= markers.threshold
    combo = markers.match(["NOTIFICATION", "Section Officer (Admin)"])
    assert markers.score(combo) >= markers.threshold


def test_phrase_split_over_two_lines(markers: MarkerSet) -> None:
    hits = markers.match(["Government of", "Sindh"])
    assert any(h.group == "government_letterhead" for h in hits)


def test_normalise_keeps_urdu_and_drops_punctuation() -> None:
    assert normalise("No. SO(IX)/CMS") == "no so ix cms"
    assert normalise("حکومت  سندھ!") == "حکومت سندھ"


def test_marker_file_unknown_key_is_named(tmp_path: Path) -> None:
    p = tmp_path / "m.yaml"
    p.write_text("official_threshold: 1.0\ngroups: []\nsurprise: 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="surprise"):
        MarkerSet.load(p)
    p.write_text("groups:\n  - {name: a, category: b, weight: 1.0, patterns: ['(']}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="bad pattern"):
        MarkerSet.load(p)


def test_options_are_validated() -> None:
    with pytest.raises(ConfigError, match="bogus"):
        build(Settings(detector_options={"documents": {"bogus": 1}}))
    with pytest.raises(ConfigError, match="not found"):
        build(Settings(detector_options={"documents": {"markers_file": "/nonexistent/markers.yaml"}}))


# ------------------------------------------------------------------------------------------ judging (scripted OCR)


def _white_page_image() -> np.ndarray:
    # Below the detector's text-detection side, so the scripted quads are image pixels as they are.
    return np.full((740, 600, 3), 250, np.uint8)


def _scripted_detector(lines: list[tuple[str, Quad]], markers: MarkerSet | None = None) -> DocumentDetector:
    return DocumentDetector(ScriptedEngine(lines), markers, DocumentOptions(gate_min_rows=0, stamps=False))


def test_official_page_evidence_has_markers_snippets_and_redacted_preview() -> None:
    lines = _page_lines(["GOVERNMENT OF SINDH", "No. SO(IX)CMS/Misc/07-07/2025", "NOTIFICATION", *BODY])
    det = _scripted_detector(lines)
    rgb = _white_page_image()
    ev = det.detect(ImageContext(rgb=rgb))
    kinds = [e.kind for e in ev]
    assert kinds == ["document", "official_document"]
    doc, off = ev
    assert doc.details["text_lines"] == len(lines)
    assert 0 < doc.details["coverage"] <= 1
    assert off.box == doc.box
    groups = {m["group"] for m in off.details["markers"]}
    assert {"government_letterhead", "file_number", "form_words"} <= groups
    assert any("GOVERNMENT OF SINDH" in m["snippet"] for m in off.details["markers"])
    jpeg = base64.b64decode(off.details["preview_jpeg_b64"])
    preview = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert preview is not None and max(preview.shape[:2]) <= 320
    json.dumps([e.to_dict() for e in ev])  # evidence must be JSON-serialisable


def test_private_page_is_document_only() -> None:
    lines = _page_lines(["SUNRISE TRADERS (PVT) LTD", "QUOTATION", *BODY])
    ev = _scripted_detector(lines).detect(ImageContext(rgb=_white_page_image()))
    assert [e.kind for e in ev] == ["document"]


def test_few_big_lines_are_not_a_page() -> None:
    lines = _page_lines(["GOVERNMENT OF SINDH", "CITY BAKERS", "OPEN 24 HOURS"], h=60, w=500)
    assert _scripted_detector(lines).detect(ImageContext(rgb=_white_page_image())) == []


def test_operator_markers_file_extends_the_lists(tmp_path: Path) -> None:
    p = tmp_path / "markers.yaml"
    p.write_text(
        "official_threshold: 1.0\n"
        "groups:\n"
        "  - {name: project, category: letterhead, weight: 1.0, phrases: ['northern irrigation board']}\n",
        encoding="utf-8",
    )
    custom = MarkerSet.load(p)
    lines = _page_lines(["NORTHERN IRRIGATION BOARD", *BODY])
    ev = _scripted_detector(lines, custom).detect(ImageContext(rgb=_white_page_image()))
    assert [e.kind for e in ev] == ["document", "official_document"]
    assert ev[1].details["markers"][0]["group"] == "project"


# ------------------------------------------------------------------------------------------ image cues


def test_stamp_found_on_official_page_not_on_private_page() -> None:
    rng = np.random.default_rng(7)
    official, spec = render_page(rng, True, stamp=True)
    private, _ = render_page(rng, False)
    h, w = official.shape[:2]
    stamps = find_stamps(official, (0, 0, w, h))
    assert spec.stamp and stamps, "the drawn stamp was not found"
    assert all(s["colour"] in {"blue", "violet", "red"} for s in stamps if s["radius"] > 40)
    assert find_stamps(private, (0, 0, w, h)) == []


def test_gate_separates_pages_from_plain_photos() -> None:
    rng = np.random.default_rng(3)
    opts = DocumentOptions()
    for _ in range(3):
        page = cv2.cvtColor(photograph(render_page(rng, bool(rng.integers(2)))[0], rng)[0], cv2.COLOR_RGB2GRAY)
        assert text_row_count(page, opts.gate_side) >= opts.gate_min_rows
        plain = cv2.cvtColor(plain_photo(rng), cv2.COLOR_RGB2GRAY)
        assert text_row_count(plain, opts.gate_side) < opts.gate_min_rows


# ------------------------------------------------------------------------------------------ generated photos, real OCR


def test_recall_on_generated_document_photos(real_detector: DocumentDetector) -> None:
    rng = np.random.default_rng(2025)
    official_images = [photograph(render_page(rng, True)[0], rng, blur=float(rng.uniform(0.6, 1.4)))[0]
                       for _ in range(4)]
    official_images.append(scan(render_page(rng, True)[0], rng))
    private_images = [photograph(render_page(rng, False)[0], rng)[0] for _ in range(2)]
    found_doc = found_off = 0
    for rgb in official_images:
        kinds = {e.kind for e in real_detector.detect(ImageContext(rgb=rgb))}
        found_doc += "document" in kinds
        found_off += "official_document" in kinds
    assert found_doc == len(official_images), f"document recall {found_doc}/{len(official_images)}"
    assert found_off >= len(official_images) - 1, f"official recall {found_off}/{len(official_images)}"
    for rgb in private_images:
        kinds = {e.kind for e in real_detector.detect(ImageContext(rgb=rgb))}
        assert kinds == {"document"}, f"private page judged {kinds}"


def test_page_box_matches_the_photographed_sheet(real_detector: DocumentDetector) -> None:
    rng = np.random.default_rng(11)
    rgb, corners = photograph(render_page(rng, True)[0], rng)
    ev = [e for e in real_detector.detect(ImageContext(rgb=rgb)) if e.kind == "document"]
    assert ev, "no page found"
    x1, y1, x2, y2 = ev[0].box
    tx1, ty1 = corners.min(axis=0)
    tx2, ty2 = corners.max(axis=0)
    inter = max(0, min(x2, tx2) - max(x1, tx1)) * max(0, min(y2, ty2) - max(y1, ty1))
    union = (x2 - x1) * (y2 - y1) + (tx2 - tx1) * (ty2 - ty1) - inter
    assert inter / union >= 0.6


def test_no_document_evidence_on_photos_without_text(real_detector: DocumentDetector) -> None:
    rng = np.random.default_rng(5)
    for _ in range(3):
        assert real_detector.detect(ImageContext(rgb=plain_photo(rng))) == []
    for _ in range(2):
        assert real_detector.detect(ImageContext(rgb=signboard_photo(rng))) == []


def test_rapidocr_engine_shared_with_settings(real_detector: DocumentDetector) -> None:
    assert isinstance(real_detector.engine, RapidOcrEngine)


def test_stamp_tips_a_page_that_falls_just_short() -> None:
    lines = _page_lines(["Section Officer (Admin)", *BODY])
    det = DocumentDetector(ScriptedEngine(lines), None, DocumentOptions(gate_min_rows=0))
    plain = _white_page_image()
    assert [e.kind for e in det.detect(ImageContext(rgb=plain))] == ["document"]
    stamped = plain.copy()
    cv2.circle(stamped, (420, 600), 60, (60, 60, 190), 5)
    cv2.circle(stamped, (420, 600), 44, (60, 60, 190), 2)
    ev = det.detect(ImageContext(rgb=stamped))
    assert [e.kind for e in ev] == ["document", "official_document"]
    assert ev[1].details["stamps"] and "stamp" in ev[1].explanation


def _line(x: float, y: float, w: float = 200, h: float = 10) -> Line:
    return Line(((x, y), (x + w, y), (x + w, y + h), (x, y + h)), (x, y, x + w, y + h), h, w)


def test_second_pass_reads_beside_readable_lines_first() -> None:
    # An English column on the left (readable) and an Urdu column on the right (unreadable).
    read = [_line(0, 0), _line(400, 0)]
    candidates = [_line(400, 40), _line(0, 40), _line(400, 80), _line(0, 80)]
    chosen = next_lines(candidates, read, [True, False], budget=2 * 21)
    assert [ln.box[0] for ln in chosen] == [0, 0]


def test_near_miss_reads_further_down_the_page() -> None:
    # One weak marker at the top, the deciding one deep in a long page beyond the normal budget.
    texts = ["Section Officer (Admin)", *[f"Item {i} of the list of offices and their timings here" for i in range(40)],
             "Police Station Preedy"]
    lines = _page_lines(texts, h=6, w=330, y=20)
    opts = DocumentOptions(gate_min_rows=0, stamps=False, first_pass_units=60, max_read_units=120,
                           near_miss_units=2000)
    det = DocumentDetector(ScriptedEngine(lines), None, opts)
    rgb = np.full((740, 600, 3), 250, np.uint8)
    assert [e.kind for e in det.detect(ImageContext(rgb=rgb))] == ["document", "official_document"]
    no_extra = DocumentDetector(ScriptedEngine(lines), None, opts.model_copy(update={"near_miss_units": 0}))
    assert [e.kind for e in no_extra.detect(ImageContext(rgb=rgb))] == ["document"]
