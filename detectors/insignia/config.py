"""Insignia configuration: file locations, the YAML vocabulary and gallery index models, detector options."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from detectors.config import Strict

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
BUILTIN_GALLERY = DATA_DIR / "gallery"
VOCABULARY_FILE = DATA_DIR / "insignia.yaml"
GALLERY_INDEX = "gallery.yaml"
GALLERY_SIDE = 400  # gallery images are normalised to this longest side before feature extraction


# ----------------------------------------------------------------------------------------------- config


class GalleryItem(Strict):
    name: str = Field(min_length=1)
    file: str = Field(min_length=1)
    body: str = ""
    # insignia: an emblem, seal or logo; office_setting: a fixture of offices that supports the finding (the
    # Quaid-e-Azam portrait, an office plaque) and is reported as supporting evidence only.
    kind: Literal["insignia", "office_setting"] = "insignia"


class GalleryFile(Strict):
    emblems: list[GalleryItem] = Field(default_factory=list)


class Vocabulary(Strict):
    designations: list[str] = Field(default_factory=list)
    acronyms: list[str] = Field(default_factory=list)
    urdu_designations: list[str] = Field(default_factory=list)
    office_phrases: list[str] = Field(default_factory=list)
    urdu_office_phrases: list[str] = Field(default_factory=list)
    # Titles of official forms that carry the issuing office's seal (an FIR is a police station's form).
    form_titles: list[str] = Field(default_factory=list)


class FlagOptions(Strict):
    work_side: int = Field(640, gt=0, description="colour analysis runs on a copy this size")
    min_area_frac: float = Field(0.002, gt=0, lt=1, description="smallest green region, fraction of image")
    sky_frac: float = Field(0.45, gt=0, le=1, description="ring around the flag this much sky -> flag alone")
    dominant_frac: float = Field(0.30, gt=0, le=1, description="flag covers this much of the image -> stock photo")
    party_frac: float = Field(0.3, gt=0, le=1, description="red beside the green this much -> party flag")
    # The flag's five-point star found on its own: it keeps its shape when the field's colour does not (a dark,
    # blue-shifted green under studio light, a crescent cut off by a fold), so the field test can be wider.
    stars: bool = True
    star_field_hues: tuple[int, int] = (35, 105)  # OpenCV hue units: yellow-green .. teal; blue is not the flag
    star_field_saturation: int = Field(60, ge=0, le=255, description="median saturation around the star")
    star_field_value: int = Field(170, ge=0, le=255, description="median brightness around the star, at most")
    star_field_uniform: float = Field(0.45, ge=0, le=1, description="share of the surroundings in one hue")


class FlagRowOptions(Strict):
    """Rows of flags of any country: flag-shaped, saturated colour pieces of similar size side by side."""

    enabled: bool = True
    work_side: int = Field(384, gt=0)
    min_piece_frac: float = Field(0.002, gt=0, lt=1, description="smallest colour piece, fraction of image")
    max_piece_frac: float = Field(0.2, gt=0, le=1, description="larger pieces fill the picture (a flag photo)")
    min_piece_height: float = Field(0.05, gt=0, le=1, description="fraction of image height")
    min_fill: float = Field(0.5, gt=0, le=1, description="piece area / its bounding box")
    aspect: tuple[float, float] = (0.25, 2.2)  # width/height: a hanging drape .. a flag unfurled (2:3..1:2)
    min_other_colour: float = Field(0.6, ge=0, le=1, description="another colour or white along one side")
    max_height_ratio: float = Field(1.3, ge=1, description="flags of a row are made to one size")
    min_vertical_overlap: float = Field(0.6, gt=0, le=1)
    max_gap: float = Field(1.5, ge=0, description="gap between neighbours, in flag heights")
    min_flags: int = Field(2, ge=2)
    require_different_colours: bool = True
    max_sky_above: float = Field(0.5, gt=0, le=1, description="flags against the sky are not a setting")


class SeatingOptions(Strict):
    """Rows of chairs and meeting tables from the object detector's boxes (memo only: no detection of its own)."""

    enabled: bool = True
    min_score: float = Field(0.35, ge=0, le=1, description="chair / table detections at least this confident")
    min_row: int = Field(4, ge=2, description="chairs side by side that make a row")
    min_at_table: int = Field(3, ge=1, description="chairs or people at one table that make a meeting table")


class InsigniaOptions(Strict):
    gallery_dirs: list[Path] = Field(default_factory=list, description="extra galleries (each with gallery.yaml)")
    builtin_gallery: bool = True
    user_gallery: bool = True  # <data_dir>/gallery, where `assetscreen gallery add` writes
    vocabulary: Path | None = None
    # never: no text cue; reuse: only lines other detectors already read; gated: also run OCR here on page-like
    # images (paper, letterheads, boards: the near-white share >= ocr_gate_white); always: OCR every image.
    ocr: Literal["never", "reuse", "gated", "always"] = "gated"
    ocr_gate_white: float = Field(0.4, ge=0, le=1)
    ocr_det_side: int = Field(768, ge=320, description="text detection size (the documents detector's)")
    ocr_max_lines: int = Field(40, gt=0, description="lines recognised per image, top first (letterheads)")
    work_side: int = Field(960, gt=0, description="emblem matching runs on a copy this size")
    orb_features: int = Field(1000, gt=0)
    min_inliers: int = Field(12, gt=3)
    ratio: float = Field(0.8, gt=0, lt=1, description="Lowe ratio test")
    flags: FlagOptions = Field(default_factory=FlagOptions)
    flag_rows: FlagRowOptions = Field(default_factory=FlagRowOptions)
    crests: bool = Field(True, description="letterhead crest cue on pages whose text lines were already detected")
    seals: bool = Field(True, description="round seal cue: circular border, lettered rim, symmetric centre")
    seating: SeatingOptions = Field(default_factory=SeatingOptions)


