"""Documents configuration: the marker file model and the detector options."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from detectors.config import Strict

NAME = "documents"
VERSION = "0.1.0"
DEFAULT_MARKERS = Path(__file__).resolve().parent.parent / "data" / "document_markers.yaml"
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


