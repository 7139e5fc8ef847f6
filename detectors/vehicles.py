"""Government vehicles: every YOLO vehicle box is `vehicle` evidence; official cues make it `gov_vehicle` too.

A car is not an asset; a police car is. The Sindh notice names government vehicles, and what makes a vehicle
visibly official is a small set of cues a moderator would point at: a green government number plate with white
characters, POLICE / GOVT / ARMY / RESCUE markings (or their Urdu), a red and blue light bar on the roof, police
livery (checkered bands, blue or red stripes on white), a flag staff on the bonnet, an olive-drab or camouflage
army body. Each cue is a function of the vehicle's RGB crop returning a `CueResult` with its reason, tested on
drawn scenes; the detector combines them (noisy-OR) and reports every cue that fired in the evidence details.

OCR is the expensive cue: it runs on the crops of the largest vehicles only, through the shared OCR engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from detectors.base import ImageContext, register_detector
from detectors.config import Strict, load_yaml_model, validate_model
from detectors.cues import (
    Blob,
    ColourSpec,
    CueResult,
    Frac4,
    Pair,
    blobs,
    colour_mask,
    crop,
    fractions,
    match_markers,
    no_cue,
    region_words,
    sub_box,
    to_hsv,
    with_overrides,
)
from detectors.evidence import Box, Evidence, Kind
from detectors.object_cues import Cues, ObjectCueDetector
from detectors.runtime.ocr import optional_ocr_engine
from detectors.runtime.yolo import Detection, YoloRunner, nms, objects, shared_yolo_runner

DEFAULT_CONFIG = Path(__file__).parent / "data" / "vehicles.yaml"


class OcrCueConfig(Strict):
    enabled: bool = True
    max_regions: int = Field(2, ge=0)
    min_box_side: int = Field(60, ge=1)
    max_side: int = Field(960, ge=64)
    min_side: int = Field(480, ge=32)
    min_word_score: float = Field(0.6, ge=0, le=1)


class MarkingsConfig(Strict):
    score: float = Field(ge=0, le=1)
    markers: list[str] = Field(min_length=1)
    # Real words one OCR error away from a marker (POLICY for POLICE): never matched.
    not_markers: list[str] = []


class PlateConfig(Strict):
    score: float = Field(ge=0, le=1)
    search: Frac4
    green: ColourSpec
    characters: ColourSpec
    aspect: Pair
    area: Pair
    min_fill: float
    characters_share: Pair
    min_characters: int = 2


class LitLampsConfig(Strict):
    max_band_brightness: float
    min_share: float
    min_core_share: float = 0.003


class LightBarConfig(Strict):
    score: float = Field(ge=0, le=1)
    search: Frac4
    red: ColourSpec
    blue: ColourSpec
    min_blob: float
    max_blob: float
    max_blob_width: float
    min_fill: float
    max_dx: float
    max_dy: float
    max_colour_share: float
    other_colours: ColourSpec
    max_other_share: float
    max_height_ratio: float
    lit: LitLampsConfig


class TwoToneConfig(Strict):
    name: str
    colours: tuple[str, str]
    min: float | Pair
    max: float | Pair


class CheckeredConfig(Strict):
    pairs: list[tuple[str, str]]
    min_run: int = 3
    min_alternations: int = 6
    min_rows: float = 0.25


class LiveryConfig(Strict):
    score: float = Field(ge=0, le=1)
    band: Frac4
    colours: dict[str, ColourSpec]
    two_tone: list[TwoToneConfig] = []
    checkered: CheckeredConfig


class FlagStaffConfig(Strict):
    score: float = Field(ge=0, le=1)
    search: Frac4
    flag_colours: dict[str, ColourSpec]
    white: ColourSpec
    area: Pair
    aspect: Pair
    white_share: Pair
    min_fill: float


class CamouflageConfig(Strict):
    colours: list[str]
    must_include: list[str] = []
    min_each: float
    min_kinds: int
    min_total: float


class ArmyConfig(Strict):
    score: float = Field(ge=0, le=1)
    region: Frac4
    colours: dict[str, ColourSpec]
    min_box_side: int = 80
    olive_share: float
    camouflage: CamouflageConfig


class VehicleCuesConfig(Strict):
    version: str
    min_box_score: float = Field(0.3, ge=0, le=1)
    min_box_side: int = Field(24, ge=1)
    max_analysed: int = Field(6, ge=0)
    merge_iou: float = Field(0.6, ge=0, le=1)
    min_gov_score: float = Field(0.5, ge=0, le=1)
    ocr: OcrCueConfig = Field(default_factory=OcrCueConfig)
    markings: MarkingsConfig
    plate: PlateConfig
    light_bar: LightBarConfig
    livery: LiveryConfig
    flag_staff: FlagStaffConfig
    army: ArmyConfig


class VehicleOptions(Strict):
    """`detector_options.vehicles` in the settings file."""

    config: Path | None = None  # a replacement for detectors/data/vehicles.yaml
    ocr: bool | None = None  # override config ocr.enabled
    min_gov_score: float | None = Field(None, ge=0, le=1)


def load_config(path: str | Path = DEFAULT_CONFIG) -> VehicleCuesConfig:
    return load_yaml_model(VehicleCuesConfig, path)


# ---------------------------------------------------------------------------------------------- cue functions
# Each takes the RGB crop of one vehicle (the box, padded a little above for roof lights) and returns a CueResult
# whose box is in the crop's pixels.


def _region(rgb: np.ndarray, frac: Frac4) -> tuple[np.ndarray, int, int]:
    h, w = rgb.shape[:2]
    x1, y1, x2, y2 = sub_box(w, h, *frac)
    return rgb[y1:y2, x1:x2], x1, y1


def _in(value: float, bounds: Pair) -> bool:
    return bounds[0] <= value <= bounds[1]


def plate_cue(
    rgb: np.ndarray, cfg: PlateConfig, words: Sequence[Any] = (), offset: tuple[int, int] = (0, 0)
) -> CueResult:
    """A green plate with white characters (Pakistani government registration) in the lower part of the box.

    `words` are OCR words in image pixels and `offset` the crop's position in the image, to read the plate text.
    """
    import cv2

    region, ox, oy = _region(rgb, cfg.search)
    if min(region.shape[:2]) < 4:
        return no_cue("plate", "box too small to look for a plate")
    box_area = rgb.shape[0] * rgb.shape[1]
    hsv = to_hsv(region)
    green = colour_mask(hsv, cfg.green)
    white = colour_mask(hsv, cfg.characters)
    # Close the character gaps so the plate is one component.
    k = max(3, int(round(min(region.shape[:2]) * 0.02)) | 1)
    closed = cv2.morphologyEx((green | white).astype(np.uint8), cv2.MORPH_CLOSE, np.ones((k, k), np.uint8)) > 0
    closed &= cv2.dilate(green.astype(np.uint8), np.ones((k, k), np.uint8)) > 0
    for b in blobs(closed, min_area=max(8, int(cfg.area[0] * box_area))):
        if not (_in(b.width / max(1, b.height), cfg.aspect) and _in(b.width * b.height / box_area, cfg.area)):
            continue
        x1, y1, x2, y2 = b.box
        g = green[y1:y2, x1:x2]
        wh = white[y1:y2, x1:x2]
        n = max(1, g.size)
        fill = float((g | wh).sum()) / n
        share = float(wh.sum()) / n
        if fill < cfg.min_fill or not _in(share, cfg.characters_share):
            continue
        # Characters: white strokes inside the plate that do not touch its border.
        inner = wh[1:-1, 1:-1] if min(wh.shape) > 2 else wh
        strokes = [s for s in blobs(inner, min_area=2) if s.height >= 0.3 * b.height]
        if len(strokes) < cfg.min_characters:
            continue
        pbox = (float(x1 + ox), float(y1 + oy), float(x2 + ox), float(y2 + oy))
        text = _words_in(words, pbox, offset)
        reason = f"green number plate with white characters ({len(strokes)} strokes)"
        if text:
            reason += f", reads {' '.join(text)!r}"
        return CueResult(
            "plate", True, cfg.score, reason, pbox, {"colour": "green", "characters": "white", "text": text}
        )
    return no_cue("plate", "no green plate with white characters")


def _words_in(words: Sequence[Any], box: Sequence[float], offset: tuple[int, int]) -> list[str]:
    ox, oy = offset
    out = []
    for w in words:
        bx1, by1, bx2, by2 = w.box
        cx, cy = (bx1 + bx2) / 2 - ox, (by1 + by2) / 2 - oy
        if box[0] <= cx <= box[2] and box[1] <= cy <= box[3]:
            out.append(w.text)
    return out


def markings_cue(words: Sequence[Any], cfg: MarkingsConfig, min_word_score: float = 0.6) -> CueResult:
    """Official markings (POLICE, GOVT, ARMY, RESCUE, Urdu پولیس...) among OCR words read on the vehicle."""
    texts = [w.text for w in words if w.score >= min_word_score]
    hits = match_markers(texts, cfg.markers, exclude=cfg.not_markers)
    if not hits:
        shown = [t for t in texts][:6]
        return no_cue("markings", "no official marking read" + (f" (read: {shown})" if shown else ""))
    markers = sorted({m for m, _t in hits})
    read = [t for _m, t in hits]
    boxes = [w.box for w in words if w.text in read]
    box = None
    if boxes:
        box = (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
    return CueResult(
        "markings",
        True,
        cfg.score,
        f"marking {', '.join(markers)} read as {read}",
        None,
        {"markers": markers, "text": read, "text_box": None if box is None else [round(v, 1) for v in box]},
    )


def _compact(b: Blob, box_w: int, box_area: int, cfg: LightBarConfig) -> bool:
    return (
        cfg.min_blob * box_area <= b.area <= cfg.max_blob * box_area
        and b.width <= cfg.max_blob_width * box_w
        and b.fill >= cfg.min_fill
    )


def light_bar_cue(rgb: np.ndarray, cfg: LightBarConfig) -> CueResult:
    """A red and a blue lamp side by side in the top band of the vehicle (a roof light bar, lit or not)."""
    import cv2

    region, ox, oy = _region(rgb, cfg.search)
    h, w = rgb.shape[:2]
    if min(region.shape[:2]) < 3:
        return no_cue("light_bar", "box too small to look for a light bar")
    hsv = to_hsv(region)
    red = colour_mask(hsv, cfg.red)
    blue = colour_mask(hsv, cfg.blue)
    n = max(1, red.size)
    red_share, blue_share = float(red.sum()) / n, float(blue.sum()) / n
    brightness = float(np.percentile(hsv[..., 2], 25))
    cores = float(((hsv[..., 2] >= 235) & (hsv[..., 1] <= 60)).mean())
    if (
        brightness <= cfg.lit.max_band_brightness
        and min(red_share, blue_share) >= cfg.lit.min_share
        and cores >= cfg.lit.min_core_share
    ):
        return CueResult(
            "light_bar",
            True,
            cfg.score,
            "lit red and blue emergency lights at night "
            f"({red_share:.0%} red, {blue_share:.0%} blue glare on the roof band)",
            None,
            {"lit": True, "band_brightness": round(brightness, 1)},
        )
    if red_share > cfg.max_colour_share or blue_share > cfg.max_colour_share:
        return no_cue("light_bar", f"top band is mostly red or blue paint/sky ({red_share:.2f}/{blue_share:.2f})")
    kernel = np.ones((3, 3), np.uint8)
    red = cv2.morphologyEx(red.astype(np.uint8), cv2.MORPH_CLOSE, kernel) > 0
    blue = cv2.morphologyEx(blue.astype(np.uint8), cv2.MORPH_CLOSE, kernel) > 0
    box_area = h * w
    reds = [b for b in blobs(red, 2) if _compact(b, w, box_area, cfg)]
    blues = [b for b in blobs(blue, 2) if _compact(b, w, box_area, cfg)]
    other = colour_mask(hsv, cfg.other_colours)
    best: tuple[float, Blob, Blob] | None = None
    decorated = 0
    for r in reds[:8]:
        for bl in blues[:8]:
            dx, dy = abs(r.cx - bl.cx) / w, abs(r.cy - bl.cy) / h
            if not (dx <= cfg.max_dx and dy <= cfg.max_dy) or (best is not None and dx + dy >= best[0]):
                continue
            hr = max(r.height, bl.height) / max(1, min(r.height, bl.height))
            overlap = min(r.box[3], bl.box[3]) - max(r.box[1], bl.box[1])
            if hr > cfg.max_height_ratio or overlap < 0.3 * min(r.height, bl.height):
                continue
            # The bar around the pair: neutral, unlike painted bodywork.
            x1, y1 = min(r.box[0], bl.box[0]), min(r.box[1], bl.box[1])
            x2, y2 = max(r.box[2], bl.box[2]), max(r.box[3], bl.box[3])
            mx, my = (x2 - x1) // 2 + 1, (y2 - y1) // 2 + 1
            around = other[max(0, y1 - my) : y2 + my, max(0, x1 - mx) : x2 + mx]
            if around.size and float(around.mean()) > cfg.max_other_share:
                decorated += 1
                continue
            best = (dx + dy, r, bl)
    if best is None:
        extra = f", {decorated} pair(s) amid other colours (decoration)" if decorated else ""
        return no_cue("light_bar", f"no red and blue lamp pair on the roof ({len(reds)} red, {len(blues)} blue{extra})")
    _d, r, bl = best
    box = (
        float(min(r.box[0], bl.box[0]) + ox),
        float(min(r.box[1], bl.box[1]) + oy),
        float(max(r.box[2], bl.box[2]) + ox),
        float(max(r.box[3], bl.box[3]) + oy),
    )
    return CueResult(
        "light_bar",
        True,
        cfg.score,
        "red and blue lamps side by side on the roof",
        box,
        {"red_px": r.area, "blue_px": bl.area},
    )


def _alternating_rows(a: np.ndarray, b: np.ndarray, min_run: int, min_alternations: int) -> int:
    """Rows where runs of colour a and colour b (each >= min_run px) alternate at least min_alternations times."""
    rows = 0
    for ra, rb in zip(a, b, strict=True):
        labels = np.where(ra, 1, np.where(rb, 2, 0))
        runs = []
        start = 0
        for i in range(1, len(labels) + 1):
            if i == len(labels) or labels[i] != labels[start]:
                if labels[start] and i - start >= min_run:
                    runs.append(int(labels[start]))
                start = i
        changes = sum(1 for x, y in zip(runs, runs[1:], strict=False) if x != y)
        if changes >= min_alternations:
            rows += 1
    return rows


def livery_cue(rgb: np.ndarray, cfg: LiveryConfig) -> CueResult:
    """Police livery on the doors and wings: checkered bands, or two-colour panels (blue-yellow, blue on white)."""
    import cv2

    band, _ox, _oy = _region(rgb, cfg.band)
    if min(band.shape[:2]) < 4:
        return no_cue("livery", "box too small to look for livery")
    scale = 160 / band.shape[1]
    band = cv2.resize(band, (160, max(4, int(round(band.shape[0] * scale)))), interpolation=cv2.INTER_AREA)
    hsv = to_hsv(band)
    masks = {name: colour_mask(hsv, spec) for name, spec in cfg.colours.items()}
    ck = cfg.checkered
    for a, b in ck.pairs:
        rows = _alternating_rows(masks[a], masks[b], ck.min_run, ck.min_alternations)
        if rows >= ck.min_rows * band.shape[0]:
            return CueResult(
                "livery",
                True,
                cfg.score,
                f"checkered {a}-{b} band on the body",
                None,
                {"pattern": "checkered", "colours": [a, b], "rows": rows},
            )
    shares = {name: float(m.mean()) for name, m in masks.items()}
    for tt in cfg.two_tone:
        lo = tt.min if isinstance(tt.min, tuple) else (tt.min, tt.min)
        hi = tt.max if isinstance(tt.max, tuple) else (tt.max, tt.max)
        sa, sb = shares[tt.colours[0]], shares[tt.colours[1]]
        if lo[0] <= sa <= hi[0] and lo[1] <= sb <= hi[1]:
            return CueResult(
                "livery",
                True,
                cfg.score,
                f"{tt.name} livery ({sa:.0%} {tt.colours[0]}, {sb:.0%} {tt.colours[1]} of the body)",
                None,
                {"pattern": tt.name, "shares": {k: round(v, 3) for k, v in shares.items()}},
            )
    return no_cue("livery", "no police livery pattern on the body", shares={k: round(v, 3) for k, v in shares.items()})


def flag_staff_cue(rgb: np.ndarray, cfg: FlagStaffConfig) -> CueResult:
    """A small flag (Pakistan: green field, white hoist stripe) standing above the bonnet."""
    import cv2

    region, ox, oy = _region(rgb, cfg.search)
    if min(region.shape[:2]) < 4:
        return no_cue("flag_staff", "box too small to look for a flag")
    box_area = rgb.shape[0] * rgb.shape[1]
    hsv = to_hsv(region)
    white = colour_mask(hsv, cfg.white)
    # The staff itself is a thin bright line: open it away so it does not merge into the flag.
    white = cv2.morphologyEx(white.astype(np.uint8), cv2.MORPH_OPEN, np.ones((1, 5), np.uint8)) > 0
    for name, spec in cfg.flag_colours.items():
        field_mask = colour_mask(hsv, spec)
        both = cv2.morphologyEx((field_mask | white).astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
        for b in blobs(both > 0, min_area=max(6, int(cfg.area[0] * box_area))):
            if not (_in(b.area / box_area, cfg.area) and _in(b.width / max(1, b.height), cfg.aspect)):
                continue
            if b.fill < cfg.min_fill:
                continue
            x1, y1, x2, y2 = b.box
            f = field_mask[y1:y2, x1:x2]
            wh = white[y1:y2, x1:x2]
            share = float(wh.mean())
            if not _in(share, cfg.white_share):
                continue
            # The white is a stripe at one side (the hoist), the field is on the other side.
            q = max(1, (x2 - x1) // 4)
            left_white, right_white = float(wh[:, :q].mean()), float(wh[:, -q:].mean())
            side_white = max(left_white, right_white)
            side_field = float(f[:, -q:].mean()) if left_white >= right_white else float(f[:, :q].mean())
            if side_white < 0.6 or side_field < 0.6:
                continue
            box = (float(x1 + ox), float(y1 + oy), float(x2 + ox), float(y2 + oy))
            return CueResult(
                "flag_staff",
                True,
                cfg.score,
                f"small {name} flag with white hoist above the bonnet",
                box,
                {"flag": name},
            )
    return no_cue("flag_staff", "no small flag above the bonnet")


def army_cue(rgb: np.ndarray, cfg: ArmyConfig) -> CueResult:
    """An olive-drab or camouflage body (army vehicles)."""
    region, _ox, _oy = _region(rgb, cfg.region)
    if min(rgb.shape[:2]) < cfg.min_box_side:
        return no_cue("army", "box too small to judge the body colour")
    shares = fractions(to_hsv(region), cfg.colours)
    rounded = {k: round(v, 3) for k, v in shares.items()}
    if shares.get("olive", 0.0) >= cfg.olive_share:
        return CueResult(
            "army",
            True,
            cfg.score,
            f"olive-drab body ({shares['olive']:.0%})",
            None,
            {"pattern": "olive drab", "shares": rounded},
        )
    cam = cfg.camouflage
    present = [c for c in cam.colours if shares.get(c, 0.0) >= cam.min_each]
    total = sum(shares.get(c, 0.0) for c in cam.colours)
    if len(present) >= cam.min_kinds and total >= cam.min_total and all(c in present for c in cam.must_include):
        return CueResult(
            "army",
            True,
            cfg.score,
            f"camouflage body ({', '.join(present)})",
            None,
            {"pattern": "camouflage", "shares": rounded},
        )
    return no_cue("army", "body is not olive drab or camouflage", shares=rounded)


# ---------------------------------------------------------------------------------------------- the detector

LIGHT_BAR_TOP_PAD = 0.12  # share of the box height added above it: light bars can stick out of the YOLO box


def vehicle_boxes(dets: Sequence[Detection], classes: frozenset[str], cfg: VehicleCuesConfig) -> list[Detection]:
    """Vehicle detections above the score floor, with same-object boxes of different classes merged."""
    cand = [d for d in dets if d.label in classes and d.score >= cfg.min_box_score]
    if not cand:
        return []
    boxes = np.array([d.box for d in cand], dtype=np.float64)
    scores = np.array([d.score for d in cand], dtype=np.float64)
    keep = nms(boxes, scores, cfg.merge_iou)
    return [cand[int(i)] for i in keep]


class VehicleDetector(ObjectCueDetector):
    """YOLO vehicle boxes -> `vehicle` evidence, plus `gov_vehicle` where official cues are found."""

    name = "vehicles"
    role = "vehicle"
    plain_kind = Kind.VEHICLE.value
    official_kind = Kind.GOV_VEHICLE.value
    produces = frozenset({Kind.VEHICLE.value, Kind.GOV_VEHICLE.value})
    # What reading a vehicle's text can change (the learned stage's OCR gate): the markings and plate cues and
    # the official score they feed. Light bar, livery, flag staff and army cues are read from pixels.
    text_keys = frozenset({"cue:markings", "cue:plate", Kind.GOV_VEHICLE.value})

    def __init__(
        self,
        runner: YoloRunner,
        *,
        vehicle_classes: Sequence[str] = ("car", "bus", "truck", "motorcycle"),
        config: VehicleCuesConfig | None = None,
        ocr_engine: Any | None = None,
    ) -> None:
        super().__init__(runner, classes=vehicle_classes, config=config or load_config(), ocr_engine=ocr_engine)

    def boxes(self, ctx: ImageContext) -> list[Detection]:
        return vehicle_boxes(objects(ctx, self.runner), self.classes, self.config)

    def large_enough(self, det: Detection) -> bool:
        return min(det.width, det.height) >= self.config.min_box_side

    def readable(self, det: Detection) -> bool:
        return min(det.width, det.height) >= self.config.ocr.min_box_side

    @property
    def official_floor(self) -> float:
        return float(self.config.min_gov_score)

    def cues(self, ctx: ImageContext, det: Detection, read_text: bool) -> list[CueResult]:
        """Every cue on one vehicle box (found or not)."""
        cfg = self.config
        top_pad = LIGHT_BAR_TOP_PAD
        rgb_pad, (ox, oy) = crop(ctx.rgb, det.box, (0.0, top_pad, 0.0, 0.0))
        rgb_box, (bx, by) = crop(ctx.rgb, det.box)
        words: list[Any] = []
        results: list[CueResult] = []
        if read_text and self.ocr_engine is not None:
            region = (ox, oy, ox + rgb_pad.shape[1], oy + rgb_pad.shape[0])
            words = region_words(ctx, self.ocr_engine, region, max_side=cfg.ocr.max_side, min_side=cfg.ocr.min_side)
            results.append(markings_cue(words, cfg.markings, cfg.ocr.min_word_score))
        elif read_text:
            results.append(no_cue("markings", "not checked: OCR is disabled or unavailable"))
        results.append(plate_cue(rgb_box, cfg.plate, words, (bx, by)).shifted(bx, by))
        results.append(light_bar_cue(rgb_pad, cfg.light_bar).shifted(ox, oy))
        results.append(livery_cue(rgb_box, cfg.livery))
        results.append(flag_staff_cue(rgb_box, cfg.flag_staff).shifted(bx, by))
        results.append(army_cue(rgb_box, cfg.army))
        return results

    def plain(self, det: Detection, box: Box, found: Cues, results: Cues) -> Evidence:
        checked = [c.cue for c in results]
        details = {"class": det.label, "official_cues": [c.cue for c in found], "cues_checked": checked}
        why = f"{det.label} detected ({det.score:.2f})"
        return self.evidence(self.plain_kind, det.label, det.score, why, box, details)

    def official(self, det: Detection, box: Box, score: float, found: Cues, results: Cues) -> Evidence:
        why = f"{det.label} with official cues: " + "; ".join(c.reason for c in found)
        details = self.official_details(results, vehicle_class=det.label, vehicle_score=round(det.score, 3))
        return self.evidence(self.official_kind, "government vehicle", score, why, box, details)


@register_detector("vehicles")
def build(settings: Any) -> VehicleDetector:
    opts = validate_model(VehicleOptions, settings.options_for("vehicles"), "detector_options.vehicles")
    config = load_config(opts.config or DEFAULT_CONFIG)
    config = with_overrides(
        config,
        min_gov_score=opts.min_gov_score,
        ocr=None if opts.ocr is None else config.ocr.model_copy(update={"enabled": opts.ocr}),
    )
    runner = shared_yolo_runner(settings.yolo)
    engine = optional_ocr_engine(settings) if config.ocr.enabled else None
    return VehicleDetector(runner, vehicle_classes=settings.yolo.vehicle_classes, config=config, ocr_engine=engine)
