"""The documents detector: gate, page, budgeted reading, markers and stamps turned into evidence."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from detectors.base import ImageContext, register_detector
from detectors.config import validate_model
from detectors.documents.config import (
    NAME,
    VERSION,
    DocumentOptions,
)
from detectors.documents.markers import (
    MarkerSet,
)
from detectors.documents.marks import (
    find_stamps,
    redacted_preview,
)
from detectors.documents.page import (
    Line,
    _readable,
    find_page,
    line_units,
    next_lines,
    reading_order,
    reading_quad,
    text_row_count,
    unreadable_share,
)
from detectors.errors import ConfigError, DetectorUnavailable
from detectors.evidence import Evidence, Kind
from detectors.runtime.ocr import OcrEngine, read_quads, text_quads

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
    text_cost = 2  # the OCR gate reads cheaper text first: a budgeted page read, after vehicle and person crops

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
