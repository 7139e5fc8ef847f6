"""Photographed official documents: find the page, read it, say what makes it official.

Rule 18 of the Government Servants (Conduct) Rules 1964 and para 4(ii) of the Establishment Division OM of
2 Sep 2024 forbid sharing official documents on social media. A reviewer needs to know (a) that a photo shows a
paper document, (b) why the system thinks it is official, without having to read the document itself.

Stages, cheapest first, each one deciding whether the next is worth its cost:

1. Gate (~10-30 ms): on a 640 px grey copy, count character-sized dark-on-light blobs that line up into rows.
   Photos without text stop here.
2. Text detection (`text_quads`, shared with the other detectors): PP-OCR's detector gives text line
   outlines. A document is many small lines in a dense block; a street sign or shop board is a few big ones.
   The page is the quadrilateral outline of a bright sheet around the text where one is visible (phone photo of
   a page on a desk), else the block of text lines (scan, screenshot).
3. Reading (`read_quads`): only the lines where official markers live (the letterhead at the top, headings,
   the signature block at the bottom) within a line budget, then more lines only if nothing decided yet.
4. Judging: marker groups from `detectors/data/document_markers.yaml` (letterheads, file numbers, form words,
   designations, their Urdu forms) plus a coloured round office stamp found by colour and Hough circles. The
   stamp is weak evidence (printed emblems and coloured photos look alike to it), so it is looked for only when
   the text markers fall just short of the threshold, and it can only tip a decision, never make one.

Evidence: `document` for every page; `official_document` as well when the markers reach the threshold, with the
matched markers, the OCR line around each, and a redacted preview (text regions pixelated, a small JPEG in
base64) for reviewers who must not read the content.
"""

from __future__ import annotations

import base64
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pydantic import Field

from detectors.base import ImageContext, downscale, register_detector
from detectors.config import Strict, load_yaml_model, validate_model
from detectors.errors import ConfigError, DetectorUnavailable
from detectors.evidence import Evidence, Kind, clip_box
from detectors.runtime.ocr import OcrEngine, OcrWord, Quad, read_quads, text_quads

NAME = "documents"
VERSION = "0.1.0"
DEFAULT_MARKERS = Path(__file__).resolve().parent / "data" / "document_markers.yaml"
# A text line is read from its start up to this many times its height (markers are short; body lines long).
MAX_LINE_UNITS = 32.0


# --------------------------------------------------------------------------------------------- config


class MarkerGroup(Strict):
    """One kind of official marker: literal phrases and/or regular expressions."""

    name: str = Field(min_length=1)
    category: str = Field(min_length=1, description="letterhead, file_number, form, signature, ...")
    weight: float = Field(gt=0, le=1)
    max_weight: float | None = Field(None, gt=0, le=2)
    phrases: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list)
    # Word sets that count when all their words appear on lines close together, in any order: the curved
    # text of a logo ("PAKISTAN" / "ARMY" read as separate lines).
    near_words: list[list[str]] = Field(default_factory=list)


class MarkerFile(Strict):
    official_threshold: float = Field(1.0, gt=0)
    stamp_weight: float = Field(0.4, ge=0, le=1)
    near_distance: float = Field(8.0, gt=0, description="near_words: in median line heights")
    groups: list[MarkerGroup]


class DocumentOptions(Strict):
    """`detector_options.documents` in the settings file."""

    markers_file: Path | None = None  # None: the packaged detectors/data/document_markers.yaml
    gate_side: int = Field(640, ge=128, description="side of the grey copy the gate looks at")
    gate_min_rows: int = Field(6, ge=0, description="text-like rows the gate needs before OCR runs")
    det_side: int = Field(768, ge=320, description="longest side seen by the text detector")
    retry_side: int = Field(1280, ge=320, description="second, sharper detection for pages of small print")
    retry_min_rows: int = Field(40, ge=0, description="gate rows that justify the sharper detection")
    min_lines: int = Field(10, ge=1, description="text lines a page needs")
    max_line_height: float = Field(0.08, gt=0, le=1, description="median line height / block height, at most")
    max_line_height_image: float = Field(0.065, gt=0, le=1, description="median line height / image height")
    min_density: float = Field(0.07, ge=0, le=1, description="text line area / block area, at least")
    min_block_fraction: float = Field(0.04, ge=0, le=1, description="text block area / image area, at least")
    first_pass_units: float = Field(100, gt=0, description="reading budget where markers usually are")
    max_read_units: float = Field(240, gt=0, description="reading budget per page, in line length/height")
    near_miss_units: float = Field(200, ge=0, description="further reading when some marker matched")
    max_unreadable_to_continue: float = Field(0.75, ge=0, le=1, description="stop reading above this share")
    stamps: bool = True
    preview: bool = True
    preview_side: int = Field(320, ge=64, le=640)
    snippet_chars: int = Field(160, ge=20)


# --------------------------------------------------------------------------------------------- markers


def normalise(text: str) -> str:
    """Lower case, punctuation to spaces, one space between words (Urdu letters kept)."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(ch if (ch.isalnum() or ch.isspace()) else " " for ch in text)
    return " ".join(text.split())


@dataclass(frozen=True)
class MarkerHit:
    group: str
    category: str
    marker: str  # the phrase or pattern that matched
    matched: str  # the text it matched
    line_index: int


@dataclass(frozen=True)
class _Group:
    name: str
    category: str
    weight: float
    max_weight: float
    phrases: tuple[tuple[str, re.Pattern[str], str | None], ...]  # (phrase, word-boundary regex, compact)
    patterns: tuple[tuple[str, re.Pattern[str]], ...]
    near_words: tuple[tuple[str, ...], ...]


class MarkerSet:
    """Compiled marker groups; `match(lines)` finds them, `score(hits)` weighs them."""

    def __init__(self, spec: MarkerFile, source: str = "") -> None:
        self.threshold = spec.official_threshold
        self.stamp_weight = spec.stamp_weight
        self.near_distance = spec.near_distance
        self.source = source
        groups = []
        for g in spec.groups:
            phrases = []
            for ph in g.phrases:
                norm = normalise(ph)
                if not norm:
                    raise ConfigError(f"{source}: group {g.name}: phrase {ph!r} has no letters")
                compact = norm.replace(" ", "")
                phrases.append((norm, re.compile(rf"(?<!\w){re.escape(norm)}(?!\w)"),
                                compact if len(compact) >= 8 else None))
            patterns = []
            for pat in g.patterns:
                try:
                    patterns.append((pat, re.compile(pat)))
                except re.error as exc:
                    raise ConfigError(f"{source}: group {g.name}: bad pattern {pat!r}: {exc}") from None
            near = tuple(tuple(normalise(w) for w in ws) for ws in g.near_words if ws)
            groups.append(_Group(g.name, g.category, g.weight, g.max_weight or g.weight, tuple(phrases),
                                 tuple(patterns), near))
        self.groups = tuple(groups)

    @classmethod
    def load(cls, path: Path | None = None) -> MarkerSet:
        p = path or DEFAULT_MARKERS
        return cls(load_yaml_model(MarkerFile, p), str(p))

    def match(self, lines: Sequence[str], boxes: Sequence[Sequence[float]] | None = None,
              line_height: float = 0.0) -> list[MarkerHit]:
        """Marker hits in OCR lines; `boxes` (xyxy per line) and `line_height` enable `near_words`."""
        hits: list[MarkerHit] = []
        norms = [normalise(t) for t in lines]
        # Two-line windows catch a phrase split across lines ("Government of" / "Sindh").
        windows = [(i, n) for i, n in enumerate(norms)] + [
            (i, f"{norms[i]} {norms[i + 1]}") for i in range(len(norms) - 1)
        ]
        for g in self.groups:
            seen: set[str] = set()
            for phrase, rx, compact in g.phrases:
                for i, text in windows:
                    if rx.search(text) or (compact and compact in text.replace(" ", "")):
                        if phrase not in seen:
                            seen.add(phrase)
                            hits.append(MarkerHit(g.name, g.category, phrase, phrase, i))
                        break
            for pat, rx in g.patterns:
                for i, raw in enumerate(lines):
                    m = rx.search(raw)
                    if m and pat not in seen:
                        seen.add(pat)
                        hits.append(MarkerHit(g.name, g.category, pat, m.group(0).strip(), i))
                        break
            if boxes is not None and line_height > 0:
                for words in g.near_words:
                    at = _near_words_at(words, norms, boxes, self.near_distance * line_height)
                    if at is not None:
                        hits.append(MarkerHit(g.name, g.category, " + ".join(words), " ".join(words), at))
        return hits

    def score(self, hits: Sequence[MarkerHit], stamp: bool = False) -> float:
        by_group: dict[str, int] = {}
        for h in hits:
            by_group[h.group] = by_group.get(h.group, 0) + 1
        total = 0.0
        for g in self.groups:
            n = by_group.get(g.name, 0)
            if n:
                total += min(g.max_weight, g.weight * n)
        if stamp:
            total += self.stamp_weight
        return total


def _near_words_at(words: Sequence[str], norms: Sequence[str], boxes: Sequence[Sequence[float]],
                   reach: float) -> int | None:
    """Index of a line holding the first word when every word is on some line within `reach` of it."""
    def holders(word: str) -> list[int]:
        rx = re.compile(rf"(?<!\w){re.escape(word)}(?!\w)")
        return [i for i, n in enumerate(norms) if rx.search(n)]

    def centre(i: int) -> tuple[float, float]:
        b = boxes[i]
        return ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)

    lists = [holders(w) for w in words]
    if not all(lists):
        return None
    for i in lists[0]:
        cx, cy = centre(i)
        if all(any(math.hypot(centre(j)[0] - cx, centre(j)[1] - cy) <= reach for j in js) for js in lists[1:]):
            return i
    return None


# --------------------------------------------------------------------------------------------- gate


def text_row_count(gray: np.ndarray, side: int = 640) -> int:
    """Rows of character-sized dark strokes in a small grey copy: a cheap 'is there printed text' measure.

    Dark-on-light strokes are found with a morphological black-hat; blobs of a character's size are merged
    along the line, and merged blobs much longer than thick (any angle: phone photos are tilted) are counted.
    Costs ~10-30 ms; photos without printed text score near zero.
    """
    h, w = gray.shape[:2]
    if min(h, w) < 16:
        return 0
    small, s = downscale(gray, side)
    strokes = cv2.morphologyEx(small, cv2.MORPH_BLACKHAT, cv2.getStructuringElement(cv2.MORPH_RECT, (9, 9)))
    thr = max(30.0, float(np.percentile(strokes, 99.5)) * 0.4)
    mask = (strokes >= thr).astype(np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=4)
    if n <= 1:
        return 0
    bw, bh, area = stats[1:, 2], stats[1:, 3], stats[1:, 4]
    keep = np.flatnonzero((bh >= 2) & (bh <= 20) & (bw <= 3 * bh + 4) & (area >= 3)) + 1
    if keep.size < 8:
        return 0
    chars = np.zeros_like(mask)
    for x, y, ww, hh in stats[keep, :4]:
        chars[y:y + hh, x:x + ww] = 1
    rows = cv2.morphologyEx(chars, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (7, 1)))
    contours, _ = cv2.findContours(rows, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    count = 0
    for c in contours:
        if len(c) < 4:
            continue
        _, (a, b), _ = cv2.minAreaRect(c)
        lo, hi = min(a, b), max(a, b)
        if hi >= 20 and 2 <= lo <= 24 and hi >= 4 * lo:
            count += 1
    return count


# --------------------------------------------------------------------------------------------- page


@dataclass
class Line:
    quad: Quad
    box: tuple[float, float, float, float]
    height: float
    width: float


@dataclass
class Page:
    box: tuple[float, float, float, float]
    outline: list[list[float]] | None  # 4 corners when a sheet outline was found
    lines: list[Line]
    coverage: float
    block_box: tuple[float, float, float, float]
    line_height: float
    source: str  # "outline" | "text_block"
    extra: dict[str, Any] = field(default_factory=dict)


def _lines_from_quads(quads: Sequence[Quad]) -> list[Line]:
    lines = []
    for q in quads:
        pts = np.asarray(q, dtype=np.float32).reshape(-1, 2)
        if pts.shape[0] != 4:
            continue
        w = float(max(np.linalg.norm(pts[0] - pts[1]), np.linalg.norm(pts[2] - pts[3])))
        h = float(max(np.linalg.norm(pts[0] - pts[3]), np.linalg.norm(pts[1] - pts[2])))
        if min(w, h) < 2:
            continue
        if h > w:  # vertical line of text: treat its short side as the height
            w, h = h, w
        x1, y1 = pts.min(axis=0)
        x2, y2 = pts.max(axis=0)
        quad: Quad = tuple((float(x), float(y)) for x, y in pts.tolist())
        lines.append(Line(quad, (float(x1), float(y1), float(x2), float(y2)), h, w))
    return lines


def _text_block(lines: Sequence[Line]) -> tuple[list[Line], tuple[float, float, float, float]]:
    """The main block of text lines: lines near the others (outliers such as a watermark or a far sign dropped)."""
    cx = np.array([(ln.box[0] + ln.box[2]) / 2 for ln in lines])
    cy = np.array([(ln.box[1] + ln.box[3]) / 2 for ln in lines])
    med_h = float(np.median([ln.height for ln in lines]))
    # Robust centre and spread; keep lines within a generous window of the median position.
    mx, my = float(np.median(cx)), float(np.median(cy))
    sx = max(float(np.percentile(np.abs(cx - mx), 80)) * 2.0, 10 * med_h)
    sy = max(float(np.percentile(np.abs(cy - my), 80)) * 2.0, 10 * med_h)
    kept = [ln for ln, x, y in zip(lines, cx, cy, strict=True) if abs(x - mx) <= sx and abs(y - my) <= sy]
    if not kept:
        kept = list(lines)
    x1 = min(ln.box[0] for ln in kept)
    y1 = min(ln.box[1] for ln in kept)
    x2 = max(ln.box[2] for ln in kept)
    y2 = max(ln.box[3] for ln in kept)
    return kept, (x1, y1, x2, y2)


def find_sheet_outline(rgb: np.ndarray, block: tuple[float, float, float, float],
                       side: int = 480) -> np.ndarray | None:
    """A bright convex quadrilateral around the text block (the sheet of paper), in image pixels, or None."""
    h, w = rgb.shape[:2]
    small, s = downscale(rgb, side)
    gray = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), (5, 5), 0)
    edges = cv2.Canny(gray, 40, 120)
    edges = cv2.dilate(edges, np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(edges, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    bx1, by1, bx2, by2 = (v * s for v in block)
    block_area = max(1.0, (bx2 - bx1) * (by2 - by1))
    img_area = float(small.shape[0] * small.shape[1])
    best, best_area = None, 0.0
    for c in contours:
        area = cv2.contourArea(c)
        if area < 0.6 * block_area or area < 0.1 * img_area or area > 0.98 * img_area:
            continue
        approx = cv2.approxPolyDP(c, 0.03 * cv2.arcLength(c, True), True)
        if len(approx) != 4 or not cv2.isContourConvex(approx):
            continue
        pts = approx.reshape(4, 2).astype(np.float32)
        # The sheet must hold most of the text block.
        inside = sum(cv2.pointPolygonTest(approx, (float(x), float(y)), False) >= 0
                     for x, y in ((bx1, by1), (bx2, by1), (bx2, by2), (bx1, by2), ((bx1 + bx2) / 2, (by1 + by2) / 2)))
        if inside < 4:
            continue
        if area > best_area:
            best, best_area = pts, area
    if best is None:
        return None
    return best / s


def find_page(rgb: np.ndarray, quads: Sequence[Quad], opts: DocumentOptions) -> Page | None:
    """A page from text line outlines, or None when the text does not look like a page."""
    lines = _lines_from_quads(quads)
    if len(lines) < opts.min_lines:
        return None
    kept, block = _text_block(lines)
    if len(kept) < opts.min_lines:
        return None
    h, w = rgb.shape[:2]
    bw, bh = block[2] - block[0], block[3] - block[1]
    med_h = float(np.median([ln.height for ln in kept]))
    block_frac = bw * bh / float(w * h)
    if block_frac < opts.min_block_fraction:
        return None
    # Many small lines: the median line is a small part of the block (a sign has one or two big lines).
    if med_h > opts.max_line_height * max(bh, 1.0) or med_h > opts.max_line_height_image * h:
        return None
    # Density: the text lines fill a fair share of the block (a scene with scattered text does not).
    text_area = sum(ln.width * ln.height for ln in kept)
    density = text_area / max(1.0, bw * bh)
    if density < opts.min_density:
        return None
    outline = find_sheet_outline(rgb, block)
    if outline is not None:
        x1, y1 = outline.min(axis=0)
        x2, y2 = outline.max(axis=0)
        box = clip_box((x1, y1, x2, y2), w, h)
        source = "outline"
    else:
        pad = med_h * 1.5
        box = clip_box((block[0] - pad, block[1] - pad, block[2] + pad, block[3] + pad), w, h)
        source = "text_block"
    if box is None:
        return None
    coverage = (box[2] - box[0]) * (box[3] - box[1]) / float(w * h)
    return Page(box=box, outline=None if outline is None else outline.round(1).tolist(), lines=kept,
                coverage=coverage, block_box=block, line_height=med_h, source=source,
                extra={"text_density": round(density, 3)})


# --------------------------------------------------------------------------------------------- reading


def reading_order(page: Page, first_units: float, total_units: float) -> tuple[list[Line], list[Line]]:
    """Lines to read first (letterhead, headings, signature block) and the ones after, within a cost budget.

    Markers sit at the top of a page (letterhead, file number, subject), in headings (taller or short lines)
    and at the bottom (designation under the signature); body text rarely decides. Recognition costs about
    in proportion to a line's length/height ratio, so the budgets count that ratio ("units"), and short lines
    (letterheads, headings, designations) come before long body lines.
    """
    y1, y2 = page.block_box[1], page.block_box[3]
    span = max(1.0, y2 - y1)
    med_h = page.line_height

    def priority(ln: Line) -> float:
        rel = ((ln.box[1] + ln.box[3]) / 2 - y1) / span
        p = 0.0
        if rel <= 0.3:  # letterhead, file number, subject
            p += 2.0 - rel * 3
        elif rel >= 0.88:  # signature block, designation, release number of an advertisement
            p += 1.5
        elif rel >= 0.75:
            p += 0.8
        if ln.height >= 1.3 * med_h:  # headings
            p += 1.0
        if ln.width / max(ln.height, 1.0) <= 12:  # short lines: names, numbers, designations; cheap to read
            p += 0.5
        return p

    ranked = sorted(page.lines, key=lambda ln: (-priority(ln), ln.box[1], ln.box[0]))
    first: list[Line] = []
    used = 0.0
    for ln in ranked:
        units = line_units(ln)
        if used + units <= first_units:
            first.append(ln)
            used += units
    chosen = {id(ln) for ln in first}
    return first, [ln for ln in ranked if id(ln) not in chosen]


def next_lines(candidates: Sequence[Line], read: Sequence[Line], read_ok: Sequence[bool], budget: float
               ) -> list[Line]:
    """Second-pass lines within `budget`: lines next to readable ones first.

    On a page that mixes scripts (an English column beside an Urdu one), the lines nearest to lines the engine
    could read are the ones worth the cost; lines whose nearest read neighbour was unreadable go last.
    """
    if not read:
        ordered = list(candidates)
    else:
        centres = np.array([((ln.box[0] + ln.box[2]) / 2, (ln.box[1] + ln.box[3]) / 2) for ln in read])
        ok = np.asarray(read_ok, dtype=bool)

        def near_readable(ln: Line) -> bool:
            c = np.array(((ln.box[0] + ln.box[2]) / 2, (ln.box[1] + ln.box[3]) / 2))
            return bool(ok[int(np.argmin(((centres - c) ** 2).sum(axis=1)))])

        flags = [near_readable(ln) for ln in candidates]
        ordered = [ln for ln, f in zip(candidates, flags, strict=True) if f] + [
            ln for ln, f in zip(candidates, flags, strict=True) if not f]
    out: list[Line] = []
    used = 0.0
    for ln in ordered:
        units = line_units(ln)
        if used + units <= budget:
            out.append(ln)
            used += units
    return out


def reading_quad(ln: Line) -> Quad:
    """The line's quad cut to its first MAX_LINE_UNITS heights (left to right), to bound recognition cost."""
    pts = np.asarray(ln.quad, dtype=np.float64)
    length = float(np.linalg.norm(pts[1] - pts[0]))
    keep = MAX_LINE_UNITS * ln.height
    if ln.width <= ln.height or length <= keep:
        return ln.quad
    t = keep / length
    p1 = pts[0] + (pts[1] - pts[0]) * t
    p2 = pts[3] + (pts[2] - pts[3]) * t
    return tuple((float(x), float(y)) for x, y in (pts[0], p1, p2, pts[3]))


def line_units(ln: Line) -> float:
    """Recognition cost of a line in units of one square (height x height) crop; capped like the crop."""
    return min(MAX_LINE_UNITS, ln.width / max(ln.height, 1.0)) + 1.0


def _readable(w: OcrWord | None) -> bool:
    # Nothing recognised, or only punctuation: what Cyrillic, Urdu or Bengali lines come out as.
    return w is not None and any(ch.isascii() and ch.isalnum() for ch in w.text)


def unreadable_share(words: Sequence[OcrWord | None]) -> float:
    """Share of read lines with no Latin letters or digits: text in a script the engine does not read."""
    if not words:
        return 0.0
    return sum(not _readable(w) for w in words) / len(words)


# --------------------------------------------------------------------------------------------- stamps


def find_stamps(rgb: np.ndarray, box: tuple[float, float, float, float], side: int = 480) -> list[dict[str, Any]]:
    """Coloured (blue, violet, red, green ink) round stamps on and around the page, by colour mask + Hough.

    A stamp is a ring of saturated ink (a line, or lettering set on a circle) on paper; we keep circles whose
    rim band is inked all round and whose inside is mostly paper (a filled disc is an emblem or a photo).
    The search covers the page box grown by a sixth, since stamps often sit in the margin beside the text.
    """
    h0, w0 = rgb.shape[:2]
    bw, bh = box[2] - box[0], box[3] - box[1]
    x1, y1 = int(max(0, box[0] - bw / 6)), int(max(0, box[1] - bh / 6))
    x2, y2 = int(min(w0, box[2] + bw / 6)), int(min(h0, box[3] + bh / 6))
    crop = rgb[y1:y2, x1:x2]
    h, w = crop.shape[:2]
    if min(h, w) < 40:
        return []
    small, s = downscale(crop, side)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    ink = (sat >= 40) & (val >= 50) & (val <= 235)
    ink_mask = (ink.astype(np.uint8)) * 255
    if cv2.countNonZero(ink_mask) < 0.001 * ink_mask.size:
        return []
    sh, sw = ink_mask.shape
    min_r, max_r = max(8, int(0.04 * min(sh, sw))), max(10, int(0.25 * min(sh, sw)))
    circles = cv2.HoughCircles(cv2.GaussianBlur(ink_mask, (7, 7), 0), cv2.HOUGH_GRADIENT, dp=1.5,
                               minDist=2 * min_r, param1=100, param2=20, minRadius=min_r, maxRadius=max_r)
    found: list[dict[str, Any]] = []
    if circles is None:
        return found
    angles = np.linspace(0, 2 * np.pi, 72, endpoint=False)
    bands = np.linspace(0.8, 1.3, 8)  # Hough radii of lettered rings run short
    cos, sin = np.cos(angles)[:, None], np.sin(angles)[:, None]
    for cx, cy, r in circles[0][:12]:
        px = np.clip(np.round(cx + r * bands[None, :] * cos).astype(int), 0, sw - 1)
        py = np.clip(np.round(cy + r * bands[None, :] * sin).astype(int), 0, sh - 1)
        rim = float(ink[py, px].any(axis=1).mean())
        if rim < 0.7:
            continue
        disc = np.zeros_like(ink_mask)
        cv2.circle(disc, (int(cx), int(cy)), int(r), 255, -1)
        inside = disc > 0
        if float(ink[inside].mean()) > 0.45:
            continue
        hues = hue[inside & ink]
        colour = _ink_colour(float(np.median(hues))) if hues.size else "unknown"
        found.append({
            "centre": [round(x1 + float(cx) / s, 1), round(y1 + float(cy) / s, 1)],
            "radius": round(float(r) / s, 1),
            "rim_ink": round(rim, 2),
            "colour": colour,
        })
    return found


def _ink_colour(h: float) -> str:
    if h < 10 or h >= 160:
        return "red"
    if 35 <= h < 85:
        return "green"
    if 85 <= h < 130:
        return "blue"
    if 130 <= h < 160:
        return "violet"
    return "other"


# --------------------------------------------------------------------------------------------- preview


def redacted_preview(rgb: np.ndarray, page: Page, side: int = 320, quality: int = 70) -> str:
    """The page with every text line pixelated, as a small base64 JPEG: layout, stamps, emblem, no content."""
    h, w = rgb.shape[:2]
    x1, y1, x2, y2 = (int(round(v)) for v in page.box)
    crop = rgb[y1:y2, x1:x2]
    ch, cw = crop.shape[:2]
    s = min(1.0, side / max(ch, cw))
    out = cv2.resize(crop, (max(1, round(cw * s)), max(1, round(ch * s))), interpolation=cv2.INTER_AREA)
    for ln in page.lines:
        lx1, ly1, lx2, ly2 = ln.box
        pad = ln.height * 0.25
        a = max(0, int((lx1 - pad - x1) * s))
        b = max(0, int((ly1 - pad - y1) * s))
        c = min(out.shape[1], int(math.ceil((lx2 + pad - x1) * s)))
        d = min(out.shape[0], int(math.ceil((ly2 + pad - y1) * s)))
        if c - a < 2 or d - b < 2:
            continue
        region = out[b:d, a:c]
        cell = max(2, int(round(ln.height * s * 0.6)))
        tiny = cv2.resize(region, (max(1, region.shape[1] // cell), max(1, region.shape[0] // cell)),
                          interpolation=cv2.INTER_AREA)
        out[b:d, a:c] = cv2.GaussianBlur(cv2.resize(tiny, (region.shape[1], region.shape[0]),
                                                    interpolation=cv2.INTER_NEAREST), (3, 3), 0)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(out, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return base64.b64encode(buf.tobytes()).decode("ascii") if ok else ""


# --------------------------------------------------------------------------------------------- detector


def _snippet(texts: Sequence[str], lines: Sequence[Line], index: int, limit: int) -> str:
    """The matched line with the read lines just above and below it on the page."""
    order = sorted(range(len(texts)), key=lambda i: (lines[i].box[1], lines[i].box[0]))
    at = order.index(index)
    parts = [texts[order[j]] for j in (at - 1, at, at + 1) if 0 <= j < len(order) and texts[order[j]]]
    snippet = " | ".join(parts)
    return snippet if len(snippet) <= limit else snippet[: limit - 1] + "…"


class DocumentDetector:
    """Finds a photographed or scanned page and judges it official from its markers (see module docstring)."""

    name = NAME
    version = VERSION
    produces = frozenset({Kind.DOCUMENT.value, Kind.OFFICIAL_DOCUMENT.value})

    def __init__(self, engine: OcrEngine, markers: MarkerSet | None = None,
                 options: DocumentOptions | None = None) -> None:
        self.engine = engine
        self.markers = markers or MarkerSet.load()
        self.options = options or DocumentOptions()

    def detect(self, ctx: ImageContext) -> list[Evidence]:
        opts = self.options
        if min(ctx.width, ctx.height) < 32:
            return []
        rows = ctx.memo(("text_rows", opts.gate_side), lambda: text_row_count(ctx.gray(), opts.gate_side))
        if rows < opts.gate_min_rows:
            return []
        quads = text_quads(ctx, self.engine, opts.det_side)
        page = find_page(ctx.rgb, quads, opts)
        if page is None and rows >= opts.retry_min_rows and max(ctx.width, ctx.height) > opts.det_side:
            # Many rows of small print that the detector merged into a few blocks: look again, sharper.
            quads = text_quads(ctx, self.engine, opts.retry_side)
            page = find_page(ctx.rgb, quads, opts)
        if page is None:
            return []

        first, rest = reading_order(page, opts.first_pass_units, opts.max_read_units)
        read_lines: list[Line] = list(first)
        words = read_quads(ctx, self.engine, [reading_quad(ln) for ln in first])
        texts = [w.text if w is not None else "" for w in words]
        hits = self.markers.match(texts, [ln.box for ln in read_lines], page.line_height)
        stamps: list[dict[str, Any]] | None = None  # looked for only when a stamp could tip the decision
        score = self.markers.score(hits)
        # Read on only while undecided, and not when the page is in a script the engine cannot read anyway.
        if score < self.markers.threshold and rest and unreadable_share(words) < opts.max_unreadable_to_continue:
            spent = sum(line_units(ln) for ln in first)
            candidates = rest
            rest = next_lines(candidates, first, [_readable(w) for w in words], opts.max_read_units - spent)
            more = read_quads(ctx, self.engine, [reading_quad(ln) for ln in rest])
            read_lines += rest
            words += more
            texts += [w.text if w is not None else "" for w in more]
            hits = self.markers.match(texts, [ln.box for ln in read_lines], page.line_height)
            score = self.markers.score(hits)
            # A near miss (some marker, not enough): the rest of the page is worth a further, bounded read.
            left = [ln for ln in candidates if id(ln) not in {id(r) for r in rest}]
            if 0 < score < self.markers.threshold and left and opts.near_miss_units > 0:
                extra = next_lines(left, read_lines, [_readable(w) for w in words], opts.near_miss_units)
                more = read_quads(ctx, self.engine, [reading_quad(ln) for ln in extra])
                read_lines += extra
                words += more
                texts += [w.text if w is not None else "" for w in more]
                hits = self.markers.match(texts, [ln.box for ln in read_lines], page.line_height)
                score = self.markers.score(hits)
        if opts.stamps and 0 < score < self.markers.threshold <= score + self.markers.stamp_weight:
            stamps = find_stamps(ctx.rgb, page.box)
            score = self.markers.score(hits, stamp=bool(stamps))

        readable = [t for t in texts if t]
        unreadable = unreadable_share(words)
        doc_score = min(1.0, 0.55 + 0.015 * len(page.lines) + 0.2 * (page.source == "outline"))
        base_details: dict[str, Any] = {
            "page_source": page.source,
            "coverage": round(page.coverage, 4),
            "text_lines": len(page.lines),
            "lines_read": len(read_lines),
            "unreadable_share": round(unreadable, 3),
            "median_line_height_px": round(page.line_height, 1),
            **page.extra,
        }
        if page.outline is not None:
            base_details["outline"] = page.outline
        if unreadable >= 0.5:
            base_details["note"] = ("most lines are in a script the OCR engine does not read (e.g. Urdu, "
                                    "Cyrillic, Bengali): official markers in it cannot be matched")
        explanation = (f"a page of {len(page.lines)} text lines covering {page.coverage:.0%} of the image "
                       f"({'sheet outline' if page.source == 'outline' else 'dense block of text lines'})")
        evidence = [Evidence(kind=Kind.DOCUMENT.value, label="document", score=doc_score, detector=NAME,
                             detector_version=VERSION, explanation=explanation, box=page.box,
                             details={**base_details, "text_sample": readable[:3]})]
        if score >= self.markers.threshold:
            markers = [{
                "group": h.group, "category": h.category, "marker": h.marker, "matched": h.matched,
                "snippet": _snippet(texts, read_lines, h.line_index, opts.snippet_chars),
            } for h in hits]
            reasons = sorted({f"{h.category}: {h.matched}" for h in hits})
            if stamps:
                reasons.append(f"stamp: {len(stamps)} round {stamps[0]['colour']} ink stamp(s)")
            details = {**base_details, "markers": markers, "stamps": stamps or [], "marker_score": round(score, 2)}
            if opts.preview:
                details["preview_jpeg_b64"] = redacted_preview(ctx.rgb, page, opts.preview_side)
                details["preview_note"] = "text lines pixelated; layout, emblem and stamps visible"
            evidence.append(Evidence(
                kind=Kind.OFFICIAL_DOCUMENT.value, label="official_document",
                score=min(1.0, 0.5 + 0.25 * score), detector=NAME, detector_version=VERSION,
                explanation="official markers on the page: " + "; ".join(reasons[:6]),
                box=page.box, details=details))
        return evidence


@register_detector(NAME)
def build(settings: Any) -> DocumentDetector:
    opts = validate_model(DocumentOptions, settings.options_for(NAME), f"detector_options.{NAME}")
    if opts.markers_file is not None and not Path(opts.markers_file).is_file():
        raise ConfigError(f"detector_options.{NAME}.markers_file: file not found: {opts.markers_file}")
    markers = MarkerSet.load(opts.markers_file)
    from detectors.runtime.ocr import ocr_engine_for

    try:
        engine = ocr_engine_for(settings)
    except DetectorUnavailable as exc:
        raise DetectorUnavailable(NAME, f"documents need an OCR engine: {exc}") from None
    return DocumentDetector(engine, markers, opts)
