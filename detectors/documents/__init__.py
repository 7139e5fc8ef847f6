"""Photographed official documents: find the page, read it, say what makes it official.

A package by stage: `config` (marker file model, options), `markers` (weighted phrase and pattern groups),
`page` (the text-row gate, the page outline, the reading order), `marks` (round stamps, the redacted preview)
and `detector` (the detector and its factory).

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

from detectors.documents.config import (
    DEFAULT_MARKERS,
    MAX_LINE_UNITS,
    NAME,
    VERSION,
    DocumentOptions,
    MarkerFile,
    MarkerGroup,
)
from detectors.documents.detector import (
    DocumentDetector,
    build,
)
from detectors.documents.markers import (
    MarkerHit,
    MarkerSet,
    normalise,
)
from detectors.documents.marks import (
    find_stamps,
    redacted_preview,
)
from detectors.documents.page import (
    Line,
    Page,
    find_page,
    find_sheet_outline,
    line_units,
    next_lines,
    reading_order,
    reading_quad,
    text_row_count,
    unreadable_share,
)

__all__ = [
    "NAME",
    "VERSION",
    "DEFAULT_MARKERS",
    "MAX_LINE_UNITS",
    "MarkerGroup",
    "MarkerFile",
    "DocumentOptions",
    "normalise",
    "MarkerHit",
    "MarkerSet",
    "text_row_count",
    "Line",
    "Page",
    "find_sheet_outline",
    "find_page",
    "reading_order",
    "next_lines",
    "reading_quad",
    "line_units",
    "unreadable_share",
    "find_stamps",
    "redacted_preview",
    "DocumentDetector",
    "build",
]
