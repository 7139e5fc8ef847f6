"""Office insignia: government emblems from a gallery, national flags in official settings, designation plates.

The Sindh notice forbids photographs of government offices; what shows an office in a photo is its insignia.
Four independent, explainable cues (the first two cheap enough for every image, the text ones gated):

- Emblems: ORB keypoints matched against a gallery of emblem images (the operator's plus our stand-in
  drawings), verified with a RANSAC homography, so scale, rotation, perspective and partial occlusion are
  tolerated and the projected gallery outline says where the emblem is. Gallery features are computed once
  when the detector is built. A gallery entry of kind `office_setting` (an office fixture such as the
  Quaid-e-Azam portrait, registered by the operator) is matched the same way and reported as supporting
  evidence, not as insignia.
- Flags: the Pakistan flag by colour and shape: a dark-green region with a white, concave crescent/star shape
  set in it (a white hoist band beside it raises the score; alone it is too common to count). A large green
  field must show its white at near the flag's true share (tables and lawns carry only a fleck). Where it
  stands decides the kind: indoors, beside people, several in a row -> `insignia`; alone against the sky,
  filling a stock photo, or with red party colours around it -> `flag_only`. The flag's five-point star is
  also found on its own (exactly five deep, alike notches round its centre) in a uniform dark green-to-teal
  field: that finds flags whose green has gone dark or blue under studio light, or whose crescent is folded
  away, where the green test fails. Stars under ~20 px on the 640 px work copy lose their notches.
- Rows of flags of any country: two or more flag-shaped (width/height 0.25..2.2, a hanging drape to a flag
  unfurled), solidly filled fields of one strong flag colour, each with another flag colour or white along one
  whole side (the flag's band, cross or hoist), of one size (heights within 1.3x), vertically aligned and
  side by side. Flag reds and yellows must be far more saturated than skin, wood and brick; greens may be dark
  (national greens in indoor shade). Rows with sky above them are left alone (a ceremony or a street). The
  country is not identified. Plain single-colour panels on a white wall would pass the side test; wide shop
  signs do not (aspect), and rows of one colour (a team's kits, one party's flags) do not (two colours needed).
- Name plates, office signage and official form titles: OCR words matched against word lists in
  detectors/data/insignia.yaml (an FIR heading names a police form issued under the station's seal).
  Designations count on short lines (a plate, a board) and office names on lines of at most ten words (a
  sign or a letterhead line), not when mentioned inside a running sentence. Lettering inside a vehicle the
  object detector already found is that vehicle's marking and is left to the vehicles detector.
  OCR is the costly stage (~1 s/photo), so by default (`ocr: gated`) it runs here only on page-like images
  (paper, letterheads, boards: mostly near-white), and text lines other detectors already read for the image
  are reused for free through the per-image memo. `reuse` never runs OCR here; `always` runs it everywhere.
- Letterhead crests: on a page whose text lines were already detected, a compact, mirror-symmetric, moderately
  dense mark that is not a text line, at the head of the page. It serves letterheads in Urdu, which the OCR
  cannot read; which body the crest belongs to is not identified.
- Round seals and logos: a large closed circular contour (a drawn seal border) with letter-sized marks arched
  along its rim over at least half the circle and a mirror-symmetric centre. The rim is unwrapped to polar
  coordinates and the seal's concentric border lines removed there first, so bold lettering that touches them
  still counts letter by letter. Photographs seldom hold such a circle; clock faces fail the symmetric centre,
  plain round mirrors and plates the lettered rim. Very fine rim lettering that breaks into specks is missed;
  the body is not identified.
- Seating (supporting evidence only): a row of four or more chairs, or three or more chairs or people at one
  table, from the object detector's boxes when another detector already ran it for the image (no detection of
  its own). It fired on 3 of the 255 evaluation photos, all official meetings; chairs under seated people are
  mostly not boxed.

Not done: a single flag of another country is not recognised (only in a row); small desk flag stands are found
only as Pakistan flags (their pieces are a few pixels on the row cue's work copy); very dark or blue-shifted
Pakistan flags are missed unless their star is seen whole (widening the green test's colour range found as many
false flags as real ones); the Quaid-e-Azam portrait behind a desk is found only once the operator registers
it (`gallery add --kind office_setting`); emblems not in the gallery are found only as letterhead crests on
pages or as round lettered seals, not as shields or crests on backdrops or signs.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
from pydantic import Field

from detectors.base import ImageContext, downscale, register_detector
from detectors.config import Strict, load_yaml_model, validate_model
from detectors.errors import ConfigError, DetectorUnavailable
from detectors.evidence import Evidence, Kind, clip_box

DATA_DIR = Path(__file__).resolve().parent / "data"
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


# ----------------------------------------------------------------------------------------------- gallery


@dataclass(frozen=True)
class GalleryEmblem:
    name: str
    body: str
    path: Path
    size: tuple[int, int]  # (w, h) of the normalised image the keypoints refer to
    points: np.ndarray  # (N, 2) float32 keypoint positions
    descriptors: np.ndarray  # (N, 32) uint8 ORB descriptors
    kind: str = Kind.INSIGNIA.value


@dataclass(frozen=True)
class EmblemMatch:
    emblem: GalleryEmblem
    inliers: int
    matches: int
    outline: np.ndarray  # (4, 2) projected gallery corners, image pixels


def _orb(n_features: int) -> cv2.ORB:
    # 10 pyramid levels at 1.2: a 400 px gallery emblem is described down to ~80 px.
    return cv2.ORB.create(
        nfeatures=n_features, scaleFactor=1.2, nlevels=10, edgeThreshold=15, patchSize=31, fastThreshold=12
    )


def read_gallery_file(directory: Path) -> list[GalleryItem]:
    index = directory / GALLERY_INDEX
    if not index.is_file():
        return []
    return load_yaml_model(GalleryFile, index).emblems


def _load_rgb(path: Path) -> np.ndarray:
    data = np.fromfile(str(path), np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None:
        raise ConfigError(f"gallery image {path} cannot be read as an image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def describe_emblem(rgb: np.ndarray, n_features: int = 400) -> tuple[tuple[int, int], np.ndarray, np.ndarray]:
    """Normalised size, keypoint positions and ORB descriptors of one gallery image."""
    h, w = rgb.shape[:2]
    s = GALLERY_SIDE / max(h, w)
    img = cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    kps, desc = _orb(n_features).detectAndCompute(gray, None)
    if desc is None or len(kps) < 8:
        raise ConfigError("too few features (needs a detailed emblem image, at least ~200 px)")
    pts = np.array([k.pt for k in kps], np.float32)
    return (img.shape[1], img.shape[0]), pts, desc


# Up to this many gallery descriptors an exact brute-force match is fast enough (a few emblems); above it an
# LSH index (FLANN) keeps a 50-emblem gallery within budget at a small cost in recall.
BRUTE_FORCE_MAX_DESCRIPTORS = 6000


class EmblemGallery:
    """All gallery emblems' features stacked in one matrix, indexed once, so a query is one matching pass."""

    def __init__(self, emblems: Sequence[GalleryEmblem]) -> None:
        self.emblems = list(emblems)
        self._lock = threading.Lock()
        self._matcher: Any = None
        if not self.emblems:
            return
        self._desc = np.vstack([e.descriptors for e in self.emblems])
        self._owner = np.concatenate([np.full(len(e.descriptors), i, np.int32) for i, e in enumerate(emblems)])
        self._start = np.cumsum([0] + [len(e.descriptors) for e in self.emblems])[:-1]
        if len(self._desc) <= BRUTE_FORCE_MAX_DESCRIPTORS:
            self.index_kind = "brute-force"
            self._matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
        else:
            self.index_kind = "lsh"
            cv2.setRNGSeed(0)
            self._matcher = cv2.FlannBasedMatcher(
                {"algorithm": 6, "table_number": 6, "key_size": 12, "multi_probe_level": 1}, {"checks": 32}
            )
            self._matcher.add([self._desc])
            self._matcher.train()

    @classmethod
    def load(cls, directories: Sequence[Path]) -> EmblemGallery:
        emblems: list[GalleryEmblem] = []
        seen: set[str] = set()
        for d in directories:
            for item in read_gallery_file(d):
                if item.name in seen:
                    raise ConfigError(f"gallery emblem name {item.name!r} appears twice ({d / GALLERY_INDEX})")
                seen.add(item.name)
                path = d / item.file
                if not path.is_file():
                    raise ConfigError(f"gallery image {path} listed in {d / GALLERY_INDEX} does not exist")
                try:
                    size, pts, desc = describe_emblem(_load_rgb(path))
                except ConfigError as exc:
                    raise ConfigError(f"gallery image {path}: {exc}") from None
                emblems.append(GalleryEmblem(item.name, item.body or item.name, path, size, pts, desc, item.kind))
        return cls(emblems)

    def match(self, gray: np.ndarray, opts: InsigniaOptions) -> list[EmblemMatch]:
        """Emblems found in a grey image (coordinates of that image)."""
        if not self.emblems or min(gray.shape[:2]) < 32:
            return []
        h, w = gray.shape[:2]
        small, s = downscale(gray, opts.work_side)
        kps, desc = _orb(opts.orb_features).detectAndCompute(small, None)
        if desc is None or len(kps) < opts.min_inliers:
            return []
        qpts = np.array([k.pt for k in kps], np.float32) / s
        with self._lock:  # matcher objects are not documented as thread-safe
            if self.index_kind == "lsh":
                knn = self._matcher.knnMatch(desc, k=2)
            else:
                knn = self._matcher.knnMatch(desc, self._desc, k=2)
        by_emblem: dict[int, list[tuple[int, int]]] = {}
        for pair in knn:
            if len(pair) < 2:
                continue
            m, n = pair
            if m.distance < opts.ratio * n.distance and m.distance <= 64:
                e = int(self._owner[m.trainIdx])
                by_emblem.setdefault(e, []).append((m.queryIdx, m.trainIdx - int(self._start[e])))
        found = []
        for e, pairs in by_emblem.items():
            if len(pairs) < opts.min_inliers:
                continue
            emblem = self.emblems[e]
            src = emblem.points[[t for _, t in pairs]]
            dst = qpts[[q for q, _ in pairs]]
            hom, mask = cv2.findHomography(src, dst, cv2.RANSAC, 6.0 / s, maxIters=500, confidence=0.995)
            if hom is None or mask is None:
                continue
            inliers = int(mask.sum())
            if inliers < opts.min_inliers:
                continue
            gw, gh = emblem.size
            corners = np.array([[0, 0], [gw, 0], [gw, gh], [0, gh]], np.float32).reshape(-1, 1, 2)
            outline = cv2.perspectiveTransform(corners, hom).reshape(4, 2)
            if _plausible_outline(outline, w, h):
                found.append(EmblemMatch(emblem, inliers, len(pairs), outline))
        return sorted(found, key=lambda m: -m.inliers)


def _plausible_outline(quad: np.ndarray, width: int, height: int) -> bool:
    """A real emblem projects to a convex, not-too-skewed quadrilateral of sensible size."""
    if not np.all(np.isfinite(quad)) or not cv2.isContourConvex(quad.astype(np.float32).reshape(-1, 1, 2)):
        return False
    area = cv2.contourArea(quad.astype(np.float32))
    if area < 16 * 16 or area > 4.0 * width * height:
        return False
    sides = [float(np.linalg.norm(quad[i] - quad[(i + 1) % 4])) for i in range(4)]
    if min(sides) < 8 or max(sides) / min(sides) > 6:
        return False
    # Opposite sides of a plausible perspective view differ by less than 4x.
    return (
        max(sides[0], sides[2]) / min(sides[0], sides[2]) < 4 and max(sides[1], sides[3]) / min(sides[1], sides[3]) < 4
    )


# ----------------------------------------------------------------------------------------------- flags


@dataclass(frozen=True)
class FlagCandidate:
    box: tuple[float, float, float, float]  # image pixels
    area_frac: float
    cue: str  # "crescent" | "crescent+hoist" | "star"
    white_inside: float
    sky_around: float
    party_around: float
    score: float


def _masks(hsv: np.ndarray) -> dict[str, np.ndarray]:
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    return {
        # Pakistan green (#01411C is H~73 in OpenCV units), dark to mid, well saturated.
        "green": ((h >= 55) & (h <= 95) & (s >= 80) & (v >= 20) & (v <= 210)),
        "white": ((s <= 70) & (v >= 130)),
        "sky": ((h >= 90) & (h <= 125) & (s >= 35) & (v >= 110)),
        "red": (((h <= 8) | (h >= 170)) & (s >= 110) & (v >= 70)),
    }


def find_pakistan_flags(rgb: np.ndarray, opts: FlagOptions) -> list[FlagCandidate]:
    """Dark-green regions carrying the flag's crescent/star (and, for a higher score, its hoist band)."""
    h0, w0 = rgb.shape[:2]
    if min(h0, w0) < 24:
        return []
    img, s = downscale(rgb, opts.work_side)
    h, w = img.shape[:2]
    hsv = cv2.cvtColor(cv2.GaussianBlur(img, (3, 3), 0), cv2.COLOR_RGB2HSV)
    masks = _masks(hsv)
    green: Any = masks["green"].astype(np.uint8)
    green = cv2.morphologyEx(green, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    green = cv2.morphologyEx(green, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(green, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    min_area = opts.min_area_frac * h * w
    out: list[FlagCandidate] = []
    white = masks["white"]
    for cnt in contours:
        if cv2.contourArea(cnt) < min_area:
            continue
        x, y, bw, bh = cv2.boundingRect(cnt)
        if bw < 10 or bh < 10:
            continue
        filled = np.zeros((h, w), np.uint8)
        cv2.drawContours(filled, [cnt], -1, 1, -1)
        region = filled.astype(bool)
        green_px = int((region & masks["green"]).sum())
        region_px = int(region.sum())
        # A flag is a solid green field: foliage and patterned cloth are far less uniformly green.
        if green_px < 0.55 * region_px:
            continue
        # The crescent often reaches the edge of a waving flag, so "inside" is the convex hull, not the holes.
        hull = np.zeros((h, w), np.uint8)
        cv2.fillConvexPoly(hull, cv2.convexHull(cnt), 1)
        hull_px = max(int(hull.sum()), 1)
        holes_white = hull.astype(bool) & white & ~masks["green"]
        white_inside = float(holes_white.sum()) / hull_px
        # A flag seen large shows its crescent and star at their true share of the field (~8-12%); a big green
        # surface (a table, a lawn, a wall) with only a white fleck on it is not a flag.
        if region_px >= LARGE_FIELD_FRAC * h * w and white_inside < LARGE_FIELD_WHITE_MIN:
            continue
        crescent = 0.015 <= white_inside <= 0.4 and _has_crescent(holes_white, masks["green"], hull_px)
        hoist = _hoist_band(white, x, y, bw, bh)
        if not crescent:  # a white band beside a green patch alone is too common (walls, signs, clothes)
            continue
        sky_around, party_around = _surroundings(region, masks)
        cue = "crescent+hoist" if crescent and hoist else ("crescent" if crescent else "hoist")
        score = 0.55 + (0.25 if crescent else 0.0) + (0.15 if hoist else 0.0)
        box = (x / s, y / s, (x + bw) / s, (y + bh) / s)
        out.append(FlagCandidate(box, region_px / (h * w), cue, white_inside, sky_around, party_around, score))
    if opts.stars:
        for star in find_flag_stars(hsv, masks, opts):
            sx, sy = (star.box[0] + star.box[2]) / 2 / s, (star.box[1] + star.box[3]) / 2 / s
            if any(c.box[0] <= sx <= c.box[2] and c.box[1] <= sy <= c.box[3] for c in out):
                continue  # the same flag, already found by its green field and crescent
            x1, y1, x2, y2 = star.box
            out.append(replace(star, box=(x1 / s, y1 / s, x2 / s, y2 / s)))
    return out


STAR_SOLIDITY = (0.35, 0.72)  # a regular five-point star is ~0.5; small ones fill in (0.68 at 22 px)
STAR_MIN_PX = 25
STAR_DEPTH_SPREAD = 0.4  # shallowest notch >= this share of the deepest: the five notches are alike
STAR_MAX_ANGLE_GAP = 120.0  # degrees between neighbouring notches around the centre (72 on a true star)


def _star_notches(cnt: np.ndarray, size: int) -> list[tuple[float, tuple[int, int]]]:
    """Concave notches of an outline at least 12% of `size` deep: (depth in px, deepest point)."""
    if len(cnt) < 10:
        return []
    try:
        defects = cv2.convexityDefects(cnt, cv2.convexHull(cnt, returnPoints=False))
    except cv2.error:  # self-intersecting outlines of tiny blobs
        return []
    if defects is None:
        return []
    return [
        (depth / 256.0, (int(cnt[f][0][0]), int(cnt[f][0][1])))
        for _, _, f, depth in defects.reshape(-1, 4)
        if depth / 256.0 >= 0.12 * size
    ]


def _is_five_point_star(blob: np.ndarray) -> bool:
    cnts, _ = cv2.findContours(blob, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cnt = max(cnts, key=cv2.contourArea)
    hull_mask = np.zeros_like(blob)
    cv2.fillConvexPoly(hull_mask, cv2.convexHull(np.vstack(cnts)), 1)
    if not STAR_SOLIDITY[0] <= int(blob.sum()) / max(int(hull_mask.sum()), 1) <= STAR_SOLIDITY[1]:
        return False
    notches = _star_notches(cnt, max(blob.shape))
    if len(notches) != 5:
        return False
    depths = [d for d, _ in notches]
    if min(depths) < STAR_DEPTH_SPREAD * max(depths):
        return False
    ys, xs = np.nonzero(blob)
    cx, cy = xs.mean(), ys.mean()
    angles = sorted(float(np.degrees(np.arctan2(py - cy, px - cx))) % 360 for _, (px, py) in notches)
    gaps = [b - a for a, b in zip(angles, angles[1:], strict=False)] + [angles[0] + 360 - angles[-1]]
    return max(gaps) <= STAR_MAX_ANGLE_GAP


def find_flag_stars(hsv: np.ndarray, masks: dict[str, np.ndarray], opts: FlagOptions) -> list[FlagCandidate]:
    """White five-point stars set in a uniform, saturated, dark green-to-teal field (boxes on the work copy).

    The star is told from other white marks by its outline alone: exactly five deep, alike notches spread
    round its centre, and a star-like solidity. Lettering, windows, leaves and reflections give two to four.
    The flag's extent is the field-coloured region around the star.
    """
    h, w = hsv.shape[:2]
    hue, sat, val = (hsv[..., i].astype(np.int16) for i in range(3))
    white = ((sat <= 80) & (val >= 120)).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(white, connectivity=4)
    out: list[FlagCandidate] = []
    for i in range(1, n):
        x, y, bw, bh, area = (int(v) for v in stats[i])
        if area < STAR_MIN_PX or area > 0.05 * h * w or min(bw, bh) < 6 or not 0.5 <= bw / bh <= 2:
            continue
        blob = (labels[y : y + bh, x : x + bw] == i).astype(np.uint8)
        if not _is_five_point_star(blob):
            continue
        pad = max(4, max(bw, bh) // 2)
        x1, y1, x2, y2 = max(0, x - pad), max(0, y - pad), min(w, x + bw + pad), min(h, y + bh + pad)
        ring = white[y1:y2, x1:x2] == 0
        ring[y - y1 : y - y1 + bh, x - x1 : x - x1 + bw] = False
        fh, fs, fv = hue[y1:y2, x1:x2][ring], sat[y1:y2, x1:x2][ring], val[y1:y2, x1:x2][ring]
        if fh.size < 30:
            continue
        mh, ms, mv = float(np.median(fh)), float(np.median(fs)), float(np.median(fv))
        if not opts.star_field_hues[0] <= mh <= opts.star_field_hues[1]:
            continue
        if ms < opts.star_field_saturation or mv > opts.star_field_value:
            continue
        dh = np.minimum(np.abs(fh - mh), 180 - np.abs(fh - mh))
        if float(((dh <= 12) & (fs >= 50)).mean()) < opts.star_field_uniform:
            continue
        # The flag: the field-coloured region that surrounds the star.
        dist = np.minimum(np.abs(hue - mh), 180 - np.abs(hue - mh))
        field = ((dist <= 12) & (sat >= 50) & (val <= max(2.5 * mv, mv + 60))).astype(np.uint8)
        field[y : y + bh, x : x + bw] |= blob
        field = cv2.morphologyEx(field, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
        _, flab, fstats, _ = cv2.connectedComponentsWithStats(field, connectivity=8)
        k = int(np.bincount(flab[y : y + bh, x : x + bw][blob.astype(bool)]).argmax())
        fx, fy, fw, fhh, farea = (int(v) for v in fstats[k])
        region = flab == k
        sky_around, party_around = _surroundings(region, masks)
        out.append(
            FlagCandidate(
                (fx, fy, fx + fw, fy + fhh),
                farea / (h * w),
                "star",
                area / max(farea, 1),
                sky_around,
                party_around,
                0.75,
            )
        )
    return out


def _surroundings(region: np.ndarray, masks: dict[str, np.ndarray]) -> tuple[float, float]:
    """Shares of sky and of party red in a ring around a flag region."""
    ring = cv2.dilate(region.astype(np.uint8), np.ones((15, 15), np.uint8), iterations=2).astype(bool) & ~region
    ring_px = max(int(ring.sum()), 1)
    return float((ring & masks["sky"]).sum()) / ring_px, float((ring & masks["red"]).sum()) / ring_px


SOLIDITY_RANGE = (0.25, 0.75)
LARGE_FIELD_FRAC = 0.05  # green regions at least this share of the image are seen well enough ...
LARGE_FIELD_WHITE_MIN = 0.06  # ... to require the white of crescent and star at near its true share
GREEN_AROUND_MIN = 0.4
LETTERING_PIECE_FRAC = 0.002  # white pieces at least this share of the hull count towards the lettering test
LETTERING_PIECES_MAX = 4


def _has_crescent(white_inside: np.ndarray, green: np.ndarray, hull_px: int) -> bool:
    """A white shape the size of the flag's crescent or star, concave like them, and set in the green field.

    Text, windows and sky patches are nearly convex (solidity > 0.8); a crescent is ~0.4-0.6 and a five-point
    star ~0.5. Requiring green on most of the shape's surroundings rules out white things beside green ones.
    """
    n, labels, stats, _ = cv2.connectedComponentsWithStats(white_inside.astype(np.uint8), connectivity=8)
    # Lettering (a green signboard or number plate) breaks into many similar white pieces; the flag has two.
    pieces = sum(1 for i in range(1, n) if stats[i, cv2.CC_STAT_AREA] >= LETTERING_PIECE_FRAC * hull_px)
    if pieces > LETTERING_PIECES_MAX:
        return False
    for i in range(1, n):
        area = int(stats[i, cv2.CC_STAT_AREA])
        if area < max(12, 0.012 * hull_px) or area > 0.3 * hull_px:
            continue
        x, y, bw, bh = (int(v) for v in stats[i, :4])
        blob = (labels[y : y + bh, x : x + bw] == i).astype(np.uint8)
        cnts, _ = cv2.findContours(blob, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        # Hull measured in pixels like the blob (contour areas undercount small shapes by half a perimeter).
        hull_mask = np.zeros_like(blob)
        cv2.fillConvexPoly(hull_mask, cv2.convexHull(np.vstack(cnts)), 1)
        solidity = area / max(int(hull_mask.sum()), 1)
        if not SOLIDITY_RANGE[0] <= solidity <= SOLIDITY_RANGE[1]:
            continue
        pad = max(3, max(bw, bh) // 4)
        y1, y2 = max(0, y - pad), min(green.shape[0], y + bh + pad)
        x1, x2 = max(0, x - pad), min(green.shape[1], x + bw + pad)
        near = labels[y1:y2, x1:x2] != i
        if near.sum() and (green[y1:y2, x1:x2] & near).sum() / near.sum() >= GREEN_AROUND_MIN:
            return True
    return False


def _hoist_band(white: np.ndarray, x: int, y: int, bw: int, bh: int) -> bool:
    """A white band as tall as the green field directly left or right of it (the flag's hoist)."""
    h, w = white.shape
    band = max(3, bw // 3)
    for x1, x2 in ((x - band, x), (x + bw, x + bw + band)):
        x1, x2 = max(0, x1), min(w, x2)
        if x2 - x1 < max(3, band // 2):
            continue
        strip = white[y : y + bh, x1:x2]
        if strip.size and strip.mean() >= 0.6:
            # Not a white wall: the band's white must stop within about a band's width further out.
            fx1, fx2 = (max(0, x1 - band), x1) if x1 < x else (x2, min(w, x2 + band))
            beyond = white[y : y + bh, fx1:fx2]
            if beyond.size == 0 or beyond.mean() < 0.6:
                return True
    return False


# ----------------------------------------------------------------------------------------------- rows of flags

# Hue classes in OpenCV units (0..180): flags are made of a few strong, saturated colours.
# Each class has its own saturation/value floor: flag reds and yellows are far more saturated than skin, wood
# and brick (which share their hues), while a national green in indoor shade is dark and less saturated.
FLAG_HUES: tuple[tuple[str, tuple[tuple[int, int], ...], int, int], ...] = (
    # name, hue ranges, min saturation, min value
    ("red", ((0, 6), (170, 180)), 170, 90),
    ("yellow", ((20, 34),), 170, 120),
    ("green", ((40, 95),), 70, 22),
    ("blue", ((100, 128),), 120, 50),
)


@dataclass(frozen=True)
class FlagPiece:
    box: tuple[int, int, int, int]  # x, y, w, h on the work copy
    colour: str
    other_colour: float  # best side strip's share of another flag colour or white


@dataclass(frozen=True)
class FlagRow:
    box: tuple[float, float, float, float]  # image pixels
    count: int
    colours: tuple[str, ...]
    sky_above: float


def _flag_pieces(hsv: np.ndarray, opts: FlagRowOptions) -> tuple[list[FlagPiece], np.ndarray]:
    h, w = hsv.shape[:2]
    hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    white = (sat <= 45) & (val >= 175)
    classes = np.full((h, w), -1, np.int8)
    for i, (_, ranges, min_sat, min_val) in enumerate(FLAG_HUES):
        m = np.zeros((h, w), bool)
        for lo, hi in ranges:
            m |= (hue >= lo) & (hue <= hi)
        classes[m & (sat >= min_sat) & (val >= min_val)] = i
    classes[white] = len(FLAG_HUES)
    pieces: list[FlagPiece] = []
    kernel = np.ones((3, 3), np.uint8)
    for i, (name, *_) in enumerate(FLAG_HUES):
        mask = cv2.morphologyEx((classes == i).astype(np.uint8), cv2.MORPH_OPEN, kernel)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        for j in range(1, n):
            x, y, bw, bh, area = (int(v) for v in stats[j])
            if area < opts.min_piece_frac * h * w or bh < opts.min_piece_height * h:
                continue
            if area > opts.max_piece_frac * h * w:
                continue
            if area < opts.min_fill * bw * bh or not opts.aspect[0] <= bw / bh <= opts.aspect[1]:
                continue
            # A flag is several colour fields side by side: its second field (a band, the hoist) runs along one
            # whole side of this one, so the best of the four side strips is mostly another colour or white.
            other = 0.0
            sx, sy = max(2, bw // 3), max(2, bh // 4)
            for x1, y1, x2, y2 in (
                (x - sx, y, x, y + bh),
                (x + bw, y, x + bw + sx, y + bh),
                (x, y - sy, x + bw, y),
                (x, y + bh, x + bw, y + bh + sy),
            ):
                x1, y1, x2, y2 = max(0, x1), max(0, y1), min(w, x2), min(h, y2)
                if x2 - x1 < 2 or y2 - y1 < 2:
                    continue
                strip = classes[y1:y2, x1:x2]
                other = max(other, float(((strip >= 0) & (strip != i)).mean()))
            pieces.append(FlagPiece((x, y, bw, bh), name, other))
    return pieces, classes


def find_flag_rows(rgb: np.ndarray, opts: FlagRowOptions) -> list[FlagRow]:
    """Two or more flag-shaped, saturated, multi-colour pieces of similar size side by side (a row of flags)."""
    h0, w0 = rgb.shape[:2]
    if min(h0, w0) < 48:
        return []
    img, s = downscale(rgb, opts.work_side)
    h, w = img.shape[:2]
    hsv = cv2.cvtColor(cv2.GaussianBlur(img, (3, 3), 0), cv2.COLOR_RGB2HSV)
    pieces, _ = _flag_pieces(hsv, opts)
    pieces = [p for p in pieces if p.other_colour >= opts.min_other_colour]
    sky = (hsv[..., 0] >= 90) & (hsv[..., 0] <= 125) & (hsv[..., 1] >= 35) & (hsv[..., 2] >= 110)
    rows: list[FlagRow] = []
    used: set[int] = set()
    pieces.sort(key=lambda p: p.box[0])
    for a in range(len(pieces)):
        if a in used:
            continue
        group = [a]
        for b in range(a + 1, len(pieces)):
            if b in used:
                continue
            pa, pb = pieces[group[-1]].box, pieces[b].box
            ha, hb = pa[3], pb[3]
            if max(ha, hb) / min(ha, hb) > opts.max_height_ratio:
                continue
            overlap = min(pa[1] + ha, pb[1] + hb) - max(pa[1], pb[1])
            if overlap < opts.min_vertical_overlap * min(ha, hb):
                continue
            gap = pb[0] - (pa[0] + pa[2])
            if gap < 0 or gap > opts.max_gap * max(ha, hb):
                continue
            group.append(b)
        if len(group) < opts.min_flags:
            continue
        colours = tuple(pieces[g].colour for g in group)
        if len(set(colours)) < 2 and opts.require_different_colours:
            continue
        used.update(group)
        xs = [pieces[g].box[0] for g in group] + [pieces[g].box[0] + pieces[g].box[2] for g in group]
        ys = [pieces[g].box[1] for g in group] + [pieces[g].box[1] + pieces[g].box[3] for g in group]
        bx1, by1, bx2, by2 = min(xs), min(ys), max(xs), max(ys)
        above = sky[max(0, by1 - (by2 - by1) // 2) : by1 + 1, bx1:bx2]
        sky_above = float(above.mean()) if above.size else 0.0
        rows.append(FlagRow((bx1 / s, by1 / s, bx2 / s, by2 / s), len(group), colours, sky_above))
    return rows


# ----------------------------------------------------------------------------------------------- letterhead crests


@dataclass(frozen=True)
class CrestCandidate:
    box: tuple[float, float, float, float]  # image pixels
    ink_density: float
    symmetry: float
    lines: int


CREST_MIN_LINES = 6  # a page: at least this many detected text lines
CREST_DENSITY = (0.22, 0.55)  # a printed crest is a detailed drawing: neither a solid block nor a sparse scribble
CREST_SYMMETRY_MIN = 0.6  # share of its ink mirrored across its vertical axis (crests, seals, emblems are symmetric)


def find_letterhead_crests(rgb: np.ndarray, quads: Sequence[Any], side: int = 768) -> list[CrestCandidate]:
    """Emblem-like marks at the head of a page: compact, mirror-symmetric ink that is not a detected text line.

    Used where text detection already ran (a page): the top third of the text block and the margin above it
    are searched for ink left after masking text lines; a candidate must be roughly square, at least a text
    line tall and a twentieth of the block wide, moderately dense and left-right symmetric. The crest is not
    identified (that is the gallery's job); Urdu letterheads, which the OCR cannot read, are the case it serves.
    """
    if len(quads) < CREST_MIN_LINES:
        return []
    h0, w0 = rgb.shape[:2]
    img, s = downscale(rgb, side)
    h, w = img.shape[:2]
    if min(h, w) < 64:
        return []
    boxes = [np.asarray(q, np.float32).reshape(-1, 2) * s for q in quads]
    line_h = max(4.0, float(np.median([np.ptp(b[:, 1]) for b in boxes])))
    xs = np.concatenate([b[:, 0] for b in boxes])
    ys = np.concatenate([b[:, 1] for b in boxes])
    bx1, bx2, by1, by2 = float(xs.min()), float(xs.max()), float(ys.min()), float(ys.max())
    bw, bh = bx2 - bx1, by2 - by1
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    paper = cv2.medianBlur(gray, 31)
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
    # Ink: clearly darker than the local paper, or coloured (crests are often printed in colour).
    ink = ((paper.astype(np.int16) - gray) > 35) | ((hsv[..., 1] > 70) & (hsv[..., 2] > 40))
    search = np.zeros((h, w), bool)
    search[
        int(max(0, by1 - 6 * line_h)) : int(min(h, by1 + 0.35 * bh)),
        int(max(0, bx1 - 0.1 * bw)) : int(min(w, bx2 + 0.1 * bw)),
    ] = True
    text = np.zeros((h, w), np.uint8)
    pad = 0.3 * line_h
    for b in boxes:
        (x1, y1), (x2, y2) = b.min(0) - pad, b.max(0) + pad
        cv2.rectangle(text, (int(x1), int(y1)), (int(x2), int(y2)), 1, -1)
    marks = (ink & search & (text == 0)).astype(np.uint8)
    k = max(3, int(line_h * 0.5)) | 1
    merged = cv2.morphologyEx(marks, cv2.MORPH_CLOSE, np.ones((k, k), np.uint8))
    n, _, stats, _ = cv2.connectedComponentsWithStats(merged, connectivity=8)
    out = []
    for i in range(1, n):
        x, y, cw, ch = (int(v) for v in stats[i, :4])
        if min(cw, ch) < max(line_h, 0.05 * bw) or not 0.6 <= cw / ch <= 1.7:
            continue
        if max(cw, ch) > 0.4 * max(bw, 1.0) or ch > 0.3 * h:
            continue
        if x <= 1 or y <= 1 or x + cw >= w - 1 or y + ch >= h - 1:  # cut by the frame: not a whole mark
            continue
        patch = marks[y : y + ch, x : x + cw].astype(np.float32)
        density = float(patch.mean())
        if not CREST_DENSITY[0] <= density <= CREST_DENSITY[1]:
            continue
        symmetry = float((patch * patch[:, ::-1]).sum() / max(float(patch.sum()), 1.0))
        if symmetry < CREST_SYMMETRY_MIN:
            continue
        out.append(CrestCandidate((x / s, y / s, (x + cw) / s, (y + ch) / s), density, symmetry, len(quads)))
    return out


# ----------------------------------------------------------------------------------------------- round seals


@dataclass(frozen=True)
class SealCandidate:
    box: tuple[float, float, float, float]  # image pixels
    glyphs: int
    arc: float
    symmetry: float


SEAL_SIDE = 480  # work copy
SEAL_MIN_RADIUS = 0.1  # of the short side: the seal is a subject of the picture (a logo, a sign), not a speck
SEAL_RING_COVER = 0.9  # share of 72 angular bins the closed outer contour reaches at its enclosing radius
SEAL_MIN_GLYPHS = 12  # letters of the body's name set along the rim
SEAL_MIN_ARC = 0.5  # share of 24 angular bins holding such letters: text arched around the seal
SEAL_SYMMETRY_MIN = 0.6  # edges of the centre mirrored across the vertical axis (an emblem, not a scene)


def _round_outlines(gray: np.ndarray) -> list[tuple[float, float, float]]:
    """Closed edge contours that are near-perfect circles (a drawn seal border), largest first, de-duplicated."""
    short = min(gray.shape)
    edges = cv2.dilate(cv2.Canny(cv2.GaussianBlur(gray, (3, 3), 0), 50, 150), np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(edges, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    found: list[tuple[float, float, float]] = []
    for c in contours:
        if len(c) < 60:
            continue
        (cx, cy), r = cv2.minEnclosingCircle(c)
        if not SEAL_MIN_RADIUS * short <= r <= 0.55 * short:
            continue
        pts = c.reshape(-1, 2).astype(np.float32)
        on_rim = np.hypot(pts[:, 0] - cx, pts[:, 1] - cy) / r > 0.93
        if on_rim.mean() < 0.45:  # most of the (dilated, so traced twice) outline lies on the circle
            continue
        ang = np.arctan2(pts[on_rim, 1] - cy, pts[on_rim, 0] - cx)
        if len(np.unique(((ang + np.pi) / (2 * np.pi) * 72).astype(int) % 72)) / 72 < SEAL_RING_COVER:
            continue
        found.append((float(cx), float(cy), float(r)))
    found.sort(key=lambda t: -t[2])
    kept: list[tuple[float, float, float]] = []
    for circle in found:
        x, y, rad = circle
        if all(np.hypot(x - k[0], y - k[1]) > 0.1 * k[2] or abs(rad - k[2]) > 0.1 * k[2] for k in kept):
            kept.append(circle)
    return kept[:6]


def _rim_glyph_angles(gray: np.ndarray, cx: float, cy: float, r: float) -> np.ndarray:
    """Angles (degrees) of letter-sized marks in the seal's rim band, 0.6..0.97 of its radius.

    The band is unwrapped to polar coordinates, where the seal's concentric border lines become straight
    columns: those (marks over half the circle at one radius) are removed first, because bold or distressed
    lettering touches them and would otherwise merge with them into one ring-sized mark.
    """
    marks = np.abs(gray.astype(np.int16) - cv2.medianBlur(gray, max(3, int(r * 0.15)) | 1)) > 40
    rad, turns = max(int(r), 8), 720
    polar = cv2.warpPolar(
        marks.astype(np.uint8), (rad, turns), (cx, cy), r, cv2.WARP_POLAR_LINEAR + cv2.INTER_NEAREST
    )  # rows: angle, columns: distance from the centre
    polar[:, polar.mean(axis=0) > 0.5] = 0
    lo, hi = int(0.6 * rad), int(0.97 * rad)
    n, _, stats, cents = cv2.connectedComponentsWithStats(np.ascontiguousarray(polar[:, lo:hi]), connectivity=8)
    angles = []
    for i in range(1, n):
        radial, rows, area = int(stats[i, 2]), int(stats[i, 3]), int(stats[i, 4])
        along = rows / turns * 2 * np.pi * (lo + cents[i][0]) * r / rad  # arc length in pixels
        if area >= 6 and 0.03 * r <= max(radial * r / rad, along) <= 0.25 * r:
            angles.append(cents[i][1] / turns * 360)
    return np.asarray(angles, np.float64)


def find_round_seals(rgb: np.ndarray, side: int = SEAL_SIDE) -> list[SealCandidate]:
    """Round seals and logos: a circular border, letters arched along its rim, a mirror-symmetric centre.

    Official seals (police, ministries, departments) set the body's name around a circle and an emblem in the
    middle. Photographs rarely hold a large closed circular contour at all (wheels and plates are seen at an
    angle and cut by other things), and the ring of letter-sized marks plus the symmetric centre rule out clock
    faces and round signs with a single word. The body is not identified (the gallery does that).
    """
    h0, w0 = rgb.shape[:2]
    img, s = downscale(rgb, side)
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    h, w = gray.shape
    if min(h, w) < 96:
        return []
    out = []
    for cx, cy, r in _round_outlines(gray):
        angles = _rim_glyph_angles(gray, cx, cy, r)
        if len(angles) < SEAL_MIN_GLYPHS:
            continue
        arc = len(np.unique((angles / 360 * 24).astype(int) % 24)) / 24
        if arc < SEAL_MIN_ARC:
            continue
        ir = int(0.6 * r)
        c0, r0 = int(cx) - ir, int(cy) - ir
        if ir < 5 or c0 < 0 or r0 < 0 or c0 + 2 * ir > w or r0 + 2 * ir > h:
            continue
        centre = cv2.dilate(cv2.Canny(gray[r0 : r0 + 2 * ir, c0 : c0 + 2 * ir], 60, 150), np.ones((3, 3), np.uint8))
        centre_f = centre.astype(np.float32) / 255
        symmetry = float((centre_f * centre_f[:, ::-1]).sum() / max(float(centre_f.sum()), 1.0))
        if symmetry < SEAL_SYMMETRY_MIN:
            continue
        out.append(SealCandidate(((cx - r) / s, (cy - r) / s, (cx + r) / s, (cy + r) / s), len(angles), arc, symmetry))
    return out


def _cached_text_quads(ctx: ImageContext) -> list[Any]:
    """The fullest set of text-line outlines any detector has already found for this image (no new work)."""
    found = [v for _, v in ctx.cached("text_det") if isinstance(v, list)]
    return max(found, key=len) if found else []


# ----------------------------------------------------------------------------------------------- seating

CHAIR_LABELS = frozenset({"chair", "couch"})
TABLE_LABELS = frozenset({"dining table"})


@dataclass(frozen=True)
class Seating:
    box: tuple[float, float, float, float]
    arrangement: str  # "row" | "table"
    chairs: int  # chairs in the row; chairs and people at the table


def find_seating(detections: Sequence[Any], opts: SeatingOptions) -> list[Seating]:
    """Chairs set out in a row (a hall, a briefing) or around a table (a meeting), from object boxes.

    A row: chairs of one size (heights within 1.6x) whose seats stand at one level (bottoms within half a chair
    height), each within two chair widths of the next. A meeting table: chairs or people whose boxes touch the
    table's box and reach below its top edge. The furniture says nothing of whose office it is (a restaurant
    table passes too): it is supporting evidence only.
    """
    chairs = [d for d in detections if d.label in CHAIR_LABELS and d.score >= opts.min_score]
    tables = [d for d in detections if d.label in TABLE_LABELS and d.score >= opts.min_score]
    # Around a meeting table the chairs are mostly hidden by the people sitting on them.
    seated = chairs + [d for d in detections if d.label == "person" and d.score >= opts.min_score]
    if not chairs and not tables:
        return []
    out: list[Seating] = []

    def union(boxes: Sequence[Sequence[float]]) -> tuple[float, float, float, float]:
        return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))

    used: set[int] = set()
    order = sorted(range(len(chairs)), key=lambda i: chairs[i].box[0])
    for a in order:
        if a in used:
            continue
        row = [a]
        for b in order:
            if b in used or b in row:
                continue
            last, cand = chairs[row[-1]].box, chairs[b].box
            lh, ch = last[3] - last[1], cand[3] - cand[1]
            lw = last[2] - last[0]
            if cand[0] < last[0] or max(lh, ch) > 1.6 * max(min(lh, ch), 1.0):
                continue
            if abs(cand[3] - last[3]) <= 0.5 * max(lh, ch) and cand[0] - last[2] <= 2 * lw:
                row.append(b)
        if len(row) >= opts.min_row:
            used.update(row)
            out.append(Seating(union([chairs[i].box for i in row]), "row", len(row)))
    for table in tables:
        tx1, ty1, tx2, ty2 = table.box
        at = []
        for c in seated:
            x1, y1, x2, y2 = c.box
            # a chair or a sitter touches the table's box, their lower part level with or below its top
            grow = 0.25 * (x2 - x1)
            if x2 >= tx1 - grow and x1 <= tx2 + grow and y2 >= ty1 and y1 <= ty2:
                at.append(c.box)
        if len(at) >= opts.min_at_table:
            out.append(Seating(union([table.box, *at]), "table", len(at)))
    return out


# ----------------------------------------------------------------------------------------------- text


OFFICE_LINE_MAX_WORDS = 10
ON_VEHICLE_SHARE = 0.8  # a text box this much inside a detected vehicle is its marking (the vehicles' evidence)


@dataclass(frozen=True)
class TextHit:
    phrase: str
    text: str
    box: tuple[float, float, float, float]
    what: str  # "designation" | "office" | "form"


class TextMatcher:
    """Designation and office phrases from the vocabulary, compiled once."""

    def __init__(self, vocab: Vocabulary) -> None:
        def words(p: str) -> re.Pattern[str]:
            return re.compile(r"\b" + r"\s+".join(re.escape(t) for t in p.split()) + r"\b", re.IGNORECASE)

        self._designations = [(p, words(p)) for p in vocab.designations]
        self._acronyms = [(a, re.compile(r"(?<![A-Za-z])" + re.escape(a) + r"(?![A-Za-z])")) for a in vocab.acronyms]
        self._urdu_designations = [(p, p.replace(" ", "")) for p in vocab.urdu_designations]
        self._offices = [(p, words(p)) for p in vocab.office_phrases]
        self._urdu_offices = [(p, p.replace(" ", "")) for p in vocab.urdu_office_phrases]
        self._forms = [(p, words(p)) for p in vocab.form_titles]

    def hits(self, words: Sequence[Any]) -> list[TextHit]:
        out: list[TextHit] = []
        for w in words:
            text = str(w.text)
            compact = text.replace(" ", "")
            # A designation counts on a short line (a plate or a board), not inside a running sentence.
            short = len(text.split()) <= 6
            for phrase, rx in self._designations:
                if short and rx.search(text):
                    out.append(TextHit(phrase, text, w.box, "designation"))
                    break
            else:
                for phrase, rx in self._acronyms:
                    if len(text.split()) <= 4 and rx.search(text):
                        out.append(TextHit(phrase, text, w.box, "designation"))
                        break
                for phrase, needle in self._urdu_designations:
                    if short and needle in compact:
                        out.append(TextHit(phrase, text, w.box, "designation"))
                        break
            for phrase, rx in self._offices:
                # An office named on a sign or a letterhead line, not mentioned inside a running sentence.
                if len(text.split()) <= OFFICE_LINE_MAX_WORDS and rx.search(text):
                    out.append(TextHit(phrase, text, w.box, "office"))
                    break
            else:
                for phrase, needle in self._urdu_offices:
                    if needle in compact:
                        out.append(TextHit(phrase, text, w.box, "office"))
                        break
            for phrase, rx in self._forms:
                # A form's title is a heading of its own, not a mention inside a sentence.
                if len(text.split()) <= 8 and rx.search(text):
                    out.append(TextHit(phrase, text, w.box, "form"))
                    break
        return out


def _cached_ocr_words(ctx: ImageContext) -> list[Any] | None:
    """Text lines other detectors already recognised for this image (any engine), or None if none did.

    `ocr_words` memoises whole-image OCR under ("ocr", id(engine)) and `read_quads` keeps the lines it read
    under ("rec_lines", id(engine)); we collect both rather than building an engine with possibly different
    options and missing the cache.
    """
    found: dict[tuple[int, ...], Any] = {}
    seen_any = False
    for key, value in ctx.cached("ocr") + ctx.cached("rec_lines"):
        if key[0] == "ocr":
            seen_any = True
            words = list(value)
        elif key[0] == "rec_lines" and isinstance(value, dict):
            seen_any = True
            words = [w for w in value.values() if w is not None]
        else:
            continue
        for w in words:
            found.setdefault(tuple(int(round(v)) for v in w.box), w)
    return list(found.values()) if seen_any else None


def page_like_share(rgb: np.ndarray, side: int = 320) -> float:
    """Share of near-white, unsaturated pixels: high for paper, letterheads, boards and plain signs."""
    small, _ = downscale(rgb, side)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    return float(((hsv[..., 1] <= 40) & (hsv[..., 2] >= 130)).mean())


# ----------------------------------------------------------------------------------------------- detector


class InsigniaDetector:
    name = "insignia"
    version = "insignia-5"
    produces = frozenset({Kind.INSIGNIA.value, Kind.FLAG_ONLY.value, Kind.OFFICE_SETTING.value})

    def __init__(
        self,
        gallery: EmblemGallery,
        vocabulary: Vocabulary,
        options: InsigniaOptions | None = None,
        ocr_engine: Any = None,
        vehicle_classes: Sequence[str] = ("car", "bus", "truck", "motorcycle"),
    ) -> None:
        self.gallery = gallery
        self.options = options or InsigniaOptions()
        self.text = TextMatcher(vocabulary)
        self.ocr_engine = ocr_engine  # used only with ocr: always
        self.vehicle_classes = frozenset(vehicle_classes)

    def detect(self, ctx: ImageContext) -> list[Evidence]:
        if min(ctx.width, ctx.height) < 24:
            return []
        out: list[Evidence] = []
        out.extend(self._emblems(ctx))
        out.extend(self._flags(ctx, emblem_found=any(e.kind == Kind.INSIGNIA.value for e in out)))
        out.extend(self._flag_rows(ctx))
        out.extend(self._text(ctx))
        out.extend(self._crests(ctx))
        out.extend(self._seals(ctx))
        out.extend(self._seating(ctx))
        return out

    def _seating(self, ctx: ImageContext) -> list[Evidence]:
        so = self.options.seating
        if not so.enabled:
            return []
        detections = [d for _, found in ctx.cached("yolo") for d in (found or [])]
        out = []
        for s in find_seating(detections, so):
            what = f"a row of {s.chairs} chairs" if s.arrangement == "row" else f"{s.chairs} seats taken at a table"
            out.append(
                self._ev(
                    Kind.OFFICE_SETTING.value,
                    "rows of chairs" if s.arrangement == "row" else "meeting table",
                    0.5,
                    f"{what} (object detector boxes): a hall or meeting room; supporting evidence only",
                    s.box,
                    ctx,
                    cue="seating",
                    arrangement=s.arrangement,
                    chairs=s.chairs,
                )
            )
        return out

    def _ev(
        self, kind: str, label: str, score: float, explanation: str, box: Any, ctx: ImageContext, **details: Any
    ) -> Evidence:
        b = None if box is None else clip_box(box, ctx.width, ctx.height)
        return Evidence(
            kind=kind,
            label=label,
            score=float(min(max(score, 0.0), 1.0)),
            detector=self.name,
            detector_version=self.version,
            explanation=explanation,
            box=b,
            details=details,
        )

    def _emblems(self, ctx: ImageContext) -> list[Evidence]:
        out = []
        for m in self.gallery.match(ctx.gray(), self.options):
            xs, ys = m.outline[:, 0], m.outline[:, 1]
            score = 0.55 + 0.45 * min(1.0, (m.inliers - self.options.min_inliers) / 40)
            what = "emblem" if m.emblem.kind == Kind.INSIGNIA.value else "office fixture"
            out.append(
                self._ev(
                    m.emblem.kind,
                    f"{what}: {m.emblem.body}",
                    score,
                    f"gallery {what} {m.emblem.name!r} matched with {m.inliers} geometrically consistent keypoints",
                    (xs.min(), ys.min(), xs.max(), ys.max()),
                    ctx,
                    cue="emblem",
                    emblem=m.emblem.name,
                    body=m.emblem.body,
                    inliers=m.inliers,
                    matches=m.matches,
                    outline=[[round(float(x), 1), round(float(y), 1)] for x, y in m.outline],
                )
            )
        return out

    def _flags(self, ctx: ImageContext, emblem_found: bool) -> list[Evidence]:
        fo = self.options.flags
        flags = find_pakistan_flags(ctx.rgb, fo)
        if not flags:
            return []
        several = len(flags) >= 2
        out = []
        official = 0
        for f in flags:
            details = dict(
                cue="flag",
                flag="Pakistan",
                shape=f.cue,
                area_frac=round(f.area_frac, 4),
                sky_around=round(f.sky_around, 3),
                party_colours_around=round(f.party_around, 3),
            )
            if f.party_around >= fo.party_frac:
                why = "red/black party colours beside the green: a party flag, not an official one"
            elif f.sky_around >= fo.sky_frac and not several and not emblem_found:
                why = "flag against the sky with nothing official around it"
            elif f.area_frac >= fo.dominant_frac and not several and not emblem_found:
                why = "the flag fills the picture (a flag photo, not a setting)"
            else:
                why = ""
            if why:
                out.append(
                    self._ev(
                        Kind.FLAG_ONLY.value,
                        "Pakistan flag, no official setting",
                        f.score,
                        f"Pakistan flag ({f.cue}) but {why}",
                        f.box,
                        ctx,
                        **details,
                    )
                )
                continue
            official += 1
            setting = (
                "several flags in a row"
                if several
                else ("beside an emblem" if emblem_found else "indoors / beside people, not against the sky")
            )
            out.append(
                self._ev(
                    Kind.INSIGNIA.value,
                    "Pakistan flag in an official setting",
                    f.score,
                    f"Pakistan flag ({f.cue}): green field with its white parts, {setting}",
                    f.box,
                    ctx,
                    **details,
                    setting=setting,
                )
            )
        if official:
            out.append(
                self._ev(
                    Kind.OFFICE_SETTING.value,
                    "flags displayed (desk, podium or office)",
                    0.5 if official == 1 else 0.65,
                    f"{official} Pakistan flag(s) displayed away from the open sky",
                    None,
                    ctx,
                    cue="flag_display",
                    flags=official,
                )
            )
        return out

    def _flag_rows(self, ctx: ImageContext) -> list[Evidence]:
        ro = self.options.flag_rows
        if not ro.enabled:
            return []
        out = []
        for row in find_flag_rows(ctx.rgb, ro):
            if row.sky_above >= ro.max_sky_above:
                continue  # flags flying in the open: a ceremony or a street, not shown as an office setting here
            out.append(
                self._ev(
                    Kind.INSIGNIA.value,
                    "row of flags (country not identified)",
                    0.5,
                    f"{row.count} flag-shaped, saturated colour fields of one size side by side "
                    f"({', '.join(row.colours)}), each beside another colour or white: flags displayed in a row",
                    row.box,
                    ctx,
                    cue="flag_row",
                    flags=row.count,
                    colours=list(row.colours),
                    sky_above=round(row.sky_above, 3),
                )
            )
        return out

    def _crests(self, ctx: ImageContext) -> list[Evidence]:
        if not self.options.crests:
            return []
        out = []
        for c in find_letterhead_crests(ctx.rgb, _cached_text_quads(ctx))[:2]:
            out.append(
                self._ev(
                    Kind.INSIGNIA.value,
                    "letterhead crest (unidentified)",
                    0.5,
                    f"a compact, mirror-symmetric emblem-like mark (symmetry {c.symmetry:.2f}) that is not text, at "
                    f"the head of a page of {c.lines} text lines: a letterhead crest or seal, body not identified",
                    c.box,
                    ctx,
                    cue="letterhead_crest",
                    ink_density=round(c.ink_density, 3),
                    symmetry=round(c.symmetry, 3),
                    lines=c.lines,
                )
            )
        return out

    def _seals(self, ctx: ImageContext) -> list[Evidence]:
        if not self.options.seals:
            return []
        out = []
        for c in find_round_seals(ctx.rgb)[:2]:
            out.append(
                self._ev(
                    Kind.INSIGNIA.value,
                    "round seal or logo (unidentified)",
                    0.5,
                    f"a circular border with {c.glyphs} letter-sized marks arched along its rim and a mirror-symmetric "
                    f"centre (symmetry {c.symmetry:.2f}): an official-style round seal or logo, body not identified",
                    c.box,
                    ctx,
                    cue="round_seal",
                    glyphs=c.glyphs,
                    arc=round(c.arc, 3),
                    symmetry=round(c.symmetry, 3),
                )
            )
        return out

    def _text(self, ctx: ImageContext) -> list[Evidence]:
        mode = self.options.ocr
        if mode == "never":
            return []
        words = _cached_ocr_words(ctx)
        run_here = mode == "always" or (mode == "gated" and page_like_share(ctx.rgb) >= self.options.ocr_gate_white)
        if self.ocr_engine is not None and run_here:
            from detectors.runtime.ocr import LineRecognizer, ocr_words, read_quads, text_quads

            engine = self.ocr_engine
            reads_lines = isinstance(engine, LineRecognizer)
            if reads_lines:
                # Text detection at the documents detector's size and per-line recognition, both memoised per
                # image, so a page another detector reads is detected once and each line recognised once.
                quads = text_quads(ctx, engine, self.options.ocr_det_side)
                quads = sorted(quads, key=lambda q: min(p[1] for p in q))[: self.options.ocr_max_lines]
                extra = [w for w in read_quads(ctx, engine, quads) if w is not None]
            else:
                extra = list(ocr_words(ctx, engine))
            words = extra + [w for w in (words or []) if w not in extra]
        if not words:
            return []
        out = []
        seen: set[tuple[str, str]] = set()
        vehicles = self._vehicle_boxes(ctx)
        for hit in self.text.hits(words):
            if (hit.what, hit.phrase) in seen or any(_inside_share(hit.box, v) >= ON_VEHICLE_SHARE for v in vehicles):
                continue  # repeated, or lettering on a vehicle (the vehicles detector reports markings)
            seen.add((hit.what, hit.phrase))
            if hit.what == "designation":
                out.append(
                    self._ev(
                        Kind.INSIGNIA.value,
                        f"designation: {hit.phrase}",
                        0.6,
                        f"OCR read {hit.text!r} (designation {hit.phrase!r}) on a short line (plate, board or heading)",
                        hit.box,
                        ctx,
                        cue="designation",
                        phrase=hit.phrase,
                        text=hit.text,
                    )
                )
            elif hit.what == "form":
                out.append(
                    self._ev(
                        Kind.INSIGNIA.value,
                        f"official form: {hit.phrase}",
                        0.5,
                        f"OCR read the heading {hit.text!r}: the title of an official form ({hit.phrase!r}), which is "
                        "issued under the office's seal",
                        hit.box,
                        ctx,
                        cue="form_title",
                        phrase=hit.phrase,
                        text=hit.text,
                    )
                )
            else:
                out.append(
                    self._ev(
                        Kind.INSIGNIA.value,
                        f"office name: {hit.phrase}",
                        0.55,
                        f"OCR read {hit.text!r} naming a government office ({hit.phrase!r})",
                        hit.box,
                        ctx,
                        cue="office_text",
                        phrase=hit.phrase,
                        text=hit.text,
                    )
                )
        return out

    def _vehicle_boxes(self, ctx: ImageContext) -> list[tuple[float, float, float, float]]:
        """Vehicles the object detector already found in this image (no new work: the memo only)."""
        return [
            d.box
            for _, found in ctx.cached("yolo")
            for d in (found or [])
            if getattr(d, "label", None) in self.vehicle_classes
        ]


def _inside_share(box: Sequence[float], outer: Sequence[float]) -> float:
    """Share of `box`'s area that lies inside `outer` (both xyxy)."""
    iw = max(0.0, min(box[2], outer[2]) - max(box[0], outer[0]))
    ih = max(0.0, min(box[3], outer[3]) - max(box[1], outer[1]))
    area = max((box[2] - box[0]) * (box[3] - box[1]), 1e-6)
    return iw * ih / area


def gallery_dirs(settings: Any, opts: InsigniaOptions) -> list[Path]:
    dirs = [BUILTIN_GALLERY] if opts.builtin_gallery else []
    if opts.user_gallery:
        dirs.append(Path(settings.data_dir) / "gallery")
    dirs.extend(Path(d) for d in opts.gallery_dirs)
    for d in opts.gallery_dirs:
        if not (Path(d) / GALLERY_INDEX).is_file():
            raise ConfigError(f"insignia gallery {d} has no {GALLERY_INDEX}")
    return dirs


@register_detector("insignia")
def build(settings: Any) -> InsigniaDetector:
    opts = validate_model(InsigniaOptions, settings.options_for("insignia"), "detector_options.insignia")
    vocab = load_yaml_model(Vocabulary, opts.vocabulary or VOCABULARY_FILE)
    gallery = EmblemGallery.load(gallery_dirs(settings, opts))
    engine = None
    if opts.ocr in ("gated", "always"):
        from detectors.runtime.ocr import ocr_engine_for

        try:
            engine = ocr_engine_for(settings)
        except DetectorUnavailable as exc:
            raise DetectorUnavailable("insignia", f"ocr: {opts.ocr} needs an OCR engine: {exc}") from None
    yolo = getattr(settings, "yolo", None)
    classes = getattr(yolo, "vehicle_classes", None) or ("car", "bus", "truck", "motorcycle")
    return InsigniaDetector(gallery, vocab, opts, engine, vehicle_classes=classes)


__all__ = [
    "EmblemGallery",
    "FlagRowOptions",
    "InsigniaDetector",
    "InsigniaOptions",
    "SeatingOptions",
    "Vocabulary",
    "find_flag_rows",
    "find_flag_stars",
    "find_pakistan_flags",
    "find_round_seals",
    "find_seating",
]
