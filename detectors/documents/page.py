"""Finding the page: the cheap text-row gate, the page outline from text lines, and the order lines are read in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from detectors.base import downscale
from detectors.documents.config import (
    MAX_LINE_UNITS,
    DocumentOptions,
)
from detectors.evidence import clip_box
from detectors.runtime.ocr import OcrWord, Quad

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


