"""Uniforms: every YOLO person box is `person` evidence; uniform cues make it `uniform` evidence too.

A person is not an asset; a police officer in uniform is. What a moderator points at: the colour profile of
shirt and trousers (Pakistani police black shirt over khaki trousers, khaki, olive, navy, army camouflage), a
cap or beret with a cap badge, badges, name tags and rank insignia on the shirt, POLICE text on a vest. Sports
kits and ordinary dark clothes are the hard negatives, so single-colour profiles that ordinary clothes share
(black, navy, light blue) are weak cues that need a second one; the distinctive ones (black over khaki,
camouflage, POLICE text) stand alone. Each cue is a function of the person's RGB crop returning a `CueResult`
with its reason; profiles and colour ranges live in detectors/data/uniforms.yaml.
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
    ColourSpec,
    CueResult,
    Frac4,
    Pair,
    blobs,
    colour_mask,
    crop,
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
from detectors.runtime.yolo import Detection, YoloRunner, shared_yolo_runner

DEFAULT_CONFIG = Path(__file__).parent / "data" / "uniforms.yaml"


class BodyLayout(Strict):
    head: Frac4
    torso: Frac4
    legs: Frac4 | None = None


class BodyConfig(Strict):
    full_min_aspect: float = 1.8
    # Boxes between this and full_min_aspect (a person with a rifle or arms out, a wide stance) are judged as a
    # portrait for the shirt and, for the profiles that need trousers, also as a whole person.
    legs_min_aspect: float = 1.8
    full: BodyLayout
    portrait: BodyLayout


class ProfileConfig(Strict):
    name: str
    score: float = Field(ge=0, le=1)
    torso: dict[str, float] = {}
    legs: dict[str, float] = {}


class OpenFrontConfig(Strict):
    region: Frac4
    max_light: float
    light: ColourSpec
    dark_profiles: list[str] = []


class CamouflageConfig(Strict):
    score: float = Field(ge=0, le=1)
    colours: list[str]
    min_each: float
    min_kinds: int
    min_total: float
    min_patches: int
    green: list[str] = []
    without_green_score: float = Field(0.3, ge=0, le=1)


class HeadgearConfig(Strict):
    score: float = Field(ge=0, le=1)
    min_dark: float
    dark: ColourSpec
    badge: ColourSpec
    badge_area: Pair
    min_ring: float = 0.75
    max_badge_aspect: float


class InsigniaConfig(Strict):
    score: float = Field(ge=0, le=1)
    shirt_colours: list[str]
    min_shirt: float
    patch_area: Pair
    min_patches: int
    max_patches: int = 12
    min_off_centre: int = 2
    max_patch_aspect: float


class OcrCueConfig(Strict):
    enabled: bool = True
    max_regions: int = Field(2, ge=0)
    min_box_height: int = Field(120, ge=1)
    max_side: int = Field(960, ge=64)
    min_side: int = Field(400, ge=32)
    min_word_score: float = Field(0.6, ge=0, le=1)


class TextConfig(Strict):
    score: float = Field(ge=0, le=1)
    markers: list[str] = Field(min_length=1)
    not_markers: list[str] = []


class UniformCuesConfig(Strict):
    version: str
    min_box_score: float = Field(0.35, ge=0, le=1)
    min_box_height: int = Field(48, ge=1)
    max_analysed: int = Field(8, ge=0)
    min_uniform_score: float = Field(0.5, ge=0, le=1)
    body: BodyConfig
    colours: dict[str, ColourSpec]
    profiles: list[ProfileConfig]
    open_front: OpenFrontConfig | None = None
    camouflage: CamouflageConfig
    headgear: HeadgearConfig
    insignia: InsigniaConfig
    ocr: OcrCueConfig = Field(default_factory=OcrCueConfig)
    text: TextConfig

    def model_post_init(self, _context: Any) -> None:
        known = set(self.colours)
        used = {c for p in self.profiles for c in (*p.torso, *p.legs)}
        used |= set(self.camouflage.colours) | set(self.insignia.shirt_colours)
        if used - known:
            raise ValueError(f"colours used but not defined under `colours`: {sorted(used - known)}")


class UniformOptions(Strict):
    """`detector_options.uniforms` in the settings file."""

    config: Path | None = None  # a replacement for detectors/data/uniforms.yaml
    ocr: bool | None = None
    min_uniform_score: float | None = Field(None, ge=0, le=1)


def load_config(path: str | Path = DEFAULT_CONFIG) -> UniformCuesConfig:
    return load_yaml_model(UniformCuesConfig, path)


# ---------------------------------------------------------------------------------------------- body regions


def body_regions(rgb: np.ndarray, body: BodyConfig, *, whole_person: bool | None = None) -> dict[str, np.ndarray]:
    """Head, torso and (for a whole person) legs crops of a person crop."""
    h, w = rgb.shape[:2]
    if whole_person is None:
        whole_person = h / max(1, w) >= body.full_min_aspect
    layout = body.full if whole_person else body.portrait
    out = {}
    for name in ("head", "torso", "legs"):
        frac = getattr(layout, name)
        if frac is None:
            continue
        x1, y1, x2, y2 = sub_box(w, h, *frac)
        out[name] = rgb[y1:y2, x1:x2]
    return out


def _shares(region: np.ndarray, colours: dict[str, ColourSpec], names: Sequence[str]) -> dict[str, float]:
    if region.size == 0:
        return {n: 0.0 for n in names}
    hsv = to_hsv(region)
    return {n: float(colour_mask(hsv, colours[n]).mean()) for n in names}


def open_front_share(torso: np.ndarray, cfg: OpenFrontConfig) -> float:
    """Share of light pixels in the middle of the chest (shirt front under a jacket, open collar)."""
    if torso.size == 0:
        return 0.0
    h, w = torso.shape[:2]
    x1, y1, x2, y2 = sub_box(w, h, *cfg.region)
    region = torso[y1:y2, x1:x2]
    return float(colour_mask(to_hsv(region), cfg.light).mean()) if region.size else 0.0


# ---------------------------------------------------------------------------------------------- cue functions


def profile_cues(regions: dict[str, np.ndarray], cfg: UniformCuesConfig) -> list[CueResult]:
    """Colour profiles of torso and legs that match (strongest first), or one not-found result."""
    names = list(cfg.colours)
    torso = _shares(regions.get("torso", np.zeros((0, 0, 3), np.uint8)), cfg.colours, names)
    legs = _shares(regions["legs"], cfg.colours, names) if "legs" in regions else None
    front = open_front_share(regions["torso"], cfg.open_front) if cfg.open_front and "torso" in regions else 0.0
    open_front = cfg.open_front is not None and front > cfg.open_front.max_light
    hits = []
    for p in cfg.profiles:
        if p.legs and legs is None:
            continue
        if open_front and cfg.open_front is not None and p.name in cfg.open_front.dark_profiles:
            continue
        ok = all(torso[c] >= v for c, v in p.torso.items()) and all(
            legs is not None and legs[c] >= v for c, v in p.legs.items()
        )
        if ok and (p.torso or p.legs):
            seen = {f"torso {c}": round(torso[c], 2) for c in p.torso}
            if legs is not None:
                seen.update({f"legs {c}": round(legs[c], 2) for c in p.legs})
            hits.append(
                CueResult(
                    "colour_profile", True, p.score, f"{p.name} ({seen})", None, {"profile": p.name, "shares": seen}
                )
            )
    hits.sort(key=lambda c: -c.score)
    if hits:
        return hits[:1]
    top = sorted(torso.items(), key=lambda kv: -kv[1])[:3]
    return [no_cue("colour_profile", "clothing matches no uniform profile", torso={k: round(v, 2) for k, v in top})]


def camouflage_cue(torso: np.ndarray, cfg: CamouflageConfig, colours: dict[str, ColourSpec]) -> CueResult:
    """Army camouflage: several earth colours in many separate patches on the torso."""
    if torso.size == 0 or min(torso.shape[:2]) < 6:
        return no_cue("camouflage", "torso too small to judge")
    hsv = to_hsv(torso)
    masks = {c: colour_mask(hsv, colours[c]) for c in cfg.colours}
    shares = {c: float(m.mean()) for c, m in masks.items()}
    present = [c for c in cfg.colours if shares[c] >= cfg.min_each]
    total = sum(shares.values())
    min_patch = max(3, int(0.003 * torso.shape[0] * torso.shape[1]))
    patches = sum(len(blobs(masks[c], min_patch)) for c in present)
    rounded = {k: round(v, 2) for k, v in shares.items()}
    if len(present) >= cfg.min_kinds and total >= cfg.min_total and patches >= cfg.min_patches:
        green = not cfg.green or any(c in present for c in cfg.green)
        kind = "camouflage pattern" if green else "earth-tone camouflage without green"
        return CueResult(
            "camouflage",
            True,
            cfg.score if green else cfg.without_green_score,
            f"{kind} ({', '.join(present)}, {patches} patches)",
            None,
            {"shares": rounded, "patches": patches, "green": green},
        )
    return no_cue("camouflage", "no camouflage pattern", shares=rounded, patches=patches)


def headgear_cue(head: np.ndarray, cfg: HeadgearConfig) -> CueResult:
    """A cap or beret: a dark crown on the head carrying a small bright cap badge."""
    if head.size == 0 or min(head.shape[:2]) < 6:
        return no_cue("headgear", "head too small to judge")
    hsv = to_hsv(head)
    dark = colour_mask(hsv, cfg.dark)
    if dark.mean() < cfg.min_dark:
        return no_cue("headgear", f"no dark cap or beret ({dark.mean():.0%} dark)")
    import cv2

    badge = colour_mask(hsv, cfg.badge)
    area = head.shape[0] * head.shape[1]
    # The badge sits on the crown: bright pixels mostly enclosed by dark ones.
    around = cv2.dilate(dark.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    for b in blobs(badge, max(2, int(cfg.badge_area[0] * area))):
        if b.area > cfg.badge_area[1] * area:
            continue
        aspect = max(b.width, b.height) / max(1, min(b.width, b.height))
        if aspect > cfg.max_badge_aspect:
            continue
        x1, y1, x2, y2 = b.box
        if x1 == 0 or y1 == 0 or x2 >= head.shape[1] or y2 >= head.shape[0]:
            continue  # a badge sits on the crown, not at the edge of the head region
        ring = around[max(0, y1 - 2) : y2 + 2, max(0, x1 - 2) : x2 + 2]
        if ring.mean() < cfg.min_ring:
            continue
        return CueResult(
            "headgear",
            True,
            cfg.score,
            "dark cap or beret with a bright cap badge",
            (float(x1), float(y1), float(x2), float(y2)),
            {"badge_px": b.area},
        )
    return no_cue("headgear", "dark hair or headgear without a cap badge")


def insignia_cue(
    torso: np.ndarray, cfg: InsigniaConfig, colours: dict[str, ColourSpec], open_front: OpenFrontConfig | None = None
) -> CueResult:
    """Badges, name tags, rank insignia: several small bright patches on a uniform-coloured shirt."""
    if torso.size == 0 or min(torso.shape[:2]) < 10:
        return no_cue("insignia", "torso too small to judge")
    if open_front is not None and open_front_share(torso, open_front) > open_front.max_light:
        return no_cue("insignia", "light shirt front under a jacket (suit or open collar)")
    hsv = to_hsv(torso)
    shirt = {c: float(colour_mask(hsv, colours[c]).mean()) for c in cfg.shirt_colours}
    colour, share = max(shirt.items(), key=lambda kv: kv[1])
    if share < cfg.min_shirt:
        return no_cue("insignia", "shirt is not a uniform colour")
    bright = colour_mask(hsv, colours["bright"]) if "bright" in colours else hsv[..., 2] > 185
    area = torso.shape[0] * torso.shape[1]
    patches = []
    for b in blobs(bright, max(2, int(cfg.patch_area[0] * area))):
        if b.area > cfg.patch_area[1] * area:
            continue
        if max(b.width, b.height) / max(1, min(b.width, b.height)) > cfg.max_patch_aspect:
            continue
        patches.append(b)
    w = torso.shape[1]
    off_centre = sum(1 for b in patches if abs(b.cx - w / 2) >= 0.15 * w)
    if len(patches) > cfg.max_patches:
        return no_cue("insignia", f"{len(patches)} bright spots: a patterned fabric, not badges")
    if len(patches) >= cfg.min_patches and off_centre >= cfg.min_off_centre:
        return CueResult(
            "insignia",
            True,
            cfg.score,
            f"{len(patches)} badge or name-tag patches on a {colour} shirt",
            None,
            {"shirt": colour, "patches": len(patches)},
        )
    return no_cue("insignia", f"{len(patches)} small bright patches on the shirt")


def text_cue(words: Sequence[Any], cfg: TextConfig, min_word_score: float = 0.6) -> CueResult:
    """POLICE (or another service word) read on the person: vests, shoulder flashes, caps."""
    texts = [w.text for w in words if w.score >= min_word_score]
    hits = match_markers(texts, cfg.markers, exclude=cfg.not_markers)
    if not hits:
        return no_cue("text", "no service text read on the person")
    markers = sorted({m for m, _t in hits})
    return CueResult(
        "text",
        True,
        cfg.score,
        f"{', '.join(markers)} read on the clothing",
        None,
        {"markers": markers, "text": [t for _m, t in hits]},
    )


def person_cues(rgb: np.ndarray, cfg: UniformCuesConfig) -> list[CueResult]:
    """All colour and shape cues on one person crop (no OCR)."""
    regions = body_regions(rgb, cfg.body)
    torso = regions.get("torso", np.zeros((0, 0, 3), np.uint8))
    out = profile_cues(regions, cfg)
    aspect = rgb.shape[0] / max(1, rgb.shape[1])
    if "legs" not in regions and aspect >= cfg.body.legs_min_aspect:
        legs_cfg = cfg.model_copy(update={"profiles": [p for p in cfg.profiles if p.legs]})
        whole = profile_cues(body_regions(rgb, cfg.body, whole_person=True), legs_cfg)
        if whole[0].found and whole[0].score > out[0].score:
            out = whole
    out.append(camouflage_cue(torso, cfg.camouflage, cfg.colours))
    out.append(headgear_cue(regions.get("head", np.zeros((0, 0, 3), np.uint8)), cfg.headgear))
    out.append(insignia_cue(torso, cfg.insignia, cfg.colours, cfg.open_front))
    return out


# ---------------------------------------------------------------------------------------------- the detector


class UniformDetector(ObjectCueDetector):
    """YOLO person boxes -> `person` evidence, plus `uniform` where uniform cues are found."""

    name = "uniforms"
    role = "person"
    plain_kind = Kind.PERSON.value
    official_kind = Kind.UNIFORM.value
    produces = frozenset({Kind.PERSON.value, Kind.UNIFORM.value})
    # What reading a person's text (name tag, POLICE lettering) can change, for the OCR gate: the text cue and
    # the uniform score it feeds; colour, camouflage, headgear and insignia cues are read from pixels.
    text_keys = frozenset({"cue:text", Kind.UNIFORM.value})

    def __init__(
        self,
        runner: YoloRunner,
        *,
        person_classes: Sequence[str] = ("person",),
        config: UniformCuesConfig | None = None,
        ocr_engine: Any | None = None,
    ) -> None:
        super().__init__(runner, classes=person_classes, config=config or load_config(), ocr_engine=ocr_engine)

    def large_enough(self, det: Detection) -> bool:
        return det.height >= self.config.min_box_height

    def readable(self, det: Detection) -> bool:
        return det.height >= self.config.ocr.min_box_height

    @property
    def official_floor(self) -> float:
        return float(self.config.min_uniform_score)

    def cues(self, ctx: ImageContext, det: Detection, read_text: bool) -> list[CueResult]:
        rgb, (ox, oy) = crop(ctx.rgb, det.box)
        results = person_cues(rgb, self.config)
        if read_text and self.ocr_engine is not None:
            c = self.config.ocr
            words = region_words(ctx, self.ocr_engine, det.box, max_side=c.max_side, min_side=c.min_side)
            results.append(text_cue(words, self.config.text, c.min_word_score))
        return [r.shifted(ox, oy) for r in results]

    def plain(self, det: Detection, box: Box, found: Cues, results: Cues) -> Evidence:
        details = {"uniform_cues": [c.cue for c in found], "cues_checked": [c.cue for c in results]}
        return self.evidence(self.plain_kind, "person", det.score, f"person detected ({det.score:.2f})", box, details)

    def official(self, det: Detection, box: Box, score: float, found: Cues, results: Cues) -> Evidence:
        why = "person in uniform: " + "; ".join(c.reason for c in found)
        details = self.official_details(results, person_score=round(det.score, 3))
        return self.evidence(self.official_kind, "uniform", score, why, box, details)


@register_detector("uniforms")
def build(settings: Any) -> UniformDetector:
    opts = validate_model(UniformOptions, settings.options_for("uniforms"), "detector_options.uniforms")
    config = load_config(opts.config or DEFAULT_CONFIG)
    config = with_overrides(
        config,
        min_uniform_score=opts.min_uniform_score,
        ocr=None if opts.ocr is None else config.ocr.model_copy(update={"enabled": opts.ocr}),
    )
    runner = shared_yolo_runner(settings.yolo)
    engine = optional_ocr_engine(settings) if config.ocr.enabled else None
    return UniformDetector(runner, person_classes=settings.yolo.person_classes, config=config, ocr_engine=engine)
