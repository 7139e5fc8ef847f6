"""Building blocks for hand-built visual cues on an object crop: colour ranges, masks, blobs and cue results.

The vehicle and uniform detectors decide "official or not" from small, explainable cues (a green plate with
white characters, a red and a blue light on the roof, a black shirt over khaki trousers). Each cue is a plain
function of an RGB crop that returns a `CueResult` with its reason, so it can be tested on a drawn scene without
a YOLO model, and reviewers see exactly why a box was called official. Colour ranges are data (YAML, validated).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import Field, model_validator

from detectors.config import Strict

Frac4 = tuple[float, float, float, float]  # a sub-box as fractions of a box: x1, y1, x2, y2 in 0..1
Pair = tuple[float, float]  # two numbers, mostly a (low, high) range


class HsvRange(Strict):
    """One HSV box in OpenCV units (H 0-179, S and V 0-255). `h` wraps through 0 when h[0] > h[1] (reds)."""

    h: tuple[int, int] = (0, 179)
    s: tuple[int, int] = (0, 255)
    v: tuple[int, int] = (0, 255)

    @model_validator(mode="after")
    def _check(self) -> HsvRange:
        if not (0 <= self.h[0] <= 179 and 0 <= self.h[1] <= 179):
            raise ValueError(f"h must lie in 0..179, got {self.h}")
        for name, (lo, hi) in (("s", self.s), ("v", self.v)):
            if not (0 <= lo <= hi <= 255):
                raise ValueError(f"{name} must be an increasing pair in 0..255, got {(lo, hi)}")
        return self


class ColourSpec(Strict):
    """A named colour: the union of its HSV ranges."""

    ranges: list[HsvRange] = Field(min_length=1)


@dataclass(frozen=True)
class CueResult:
    """What one cue saw on one crop. `box` is xyxy in the crop's pixels (the caller maps it to the image)."""

    cue: str
    found: bool
    score: float
    reason: str
    box: tuple[float, float, float, float] | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def shifted(self, ox: float, oy: float) -> CueResult:
        """The same result with its box moved from crop to image pixels."""
        if self.box is None:
            return self
        b = self.box
        return CueResult(self.cue, self.found, self.score, self.reason,
                         (b[0] + ox, b[1] + oy, b[2] + ox, b[3] + oy), self.details)

    def to_dict(self, offset: tuple[float, float] = (0.0, 0.0)) -> dict[str, Any]:
        out: dict[str, Any] = {"cue": self.cue, "score": round(self.score, 3), "reason": self.reason}
        if self.box is not None:
            ox, oy = offset
            out["box"] = [
                round(self.box[0] + ox, 1),
                round(self.box[1] + oy, 1),
                round(self.box[2] + ox, 1),
                round(self.box[3] + oy, 1),
            ]
        if self.details:
            out.update(dict(self.details))
        return out


def no_cue(cue: str, reason: str, **details: Any) -> CueResult:
    return CueResult(cue=cue, found=False, score=0.0, reason=reason, details=details)


def to_hsv(rgb: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2HSV)


def colour_mask(hsv: np.ndarray, spec: ColourSpec) -> np.ndarray:
    """Boolean mask of pixels inside any of the colour's HSV ranges."""
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    out = np.zeros(hsv.shape[:2], bool)
    for r in spec.ranges:
        if r.h[0] <= r.h[1]:
            hm = (h >= r.h[0]) & (h <= r.h[1])
        else:
            hm = (h >= r.h[0]) | (h <= r.h[1])
        out |= hm & (s >= r.s[0]) & (s <= r.s[1]) & (v >= r.v[0]) & (v <= r.v[1])
    return out


def fractions(hsv: np.ndarray, colours: Mapping[str, ColourSpec]) -> dict[str, float]:
    """Share of the region's pixels in each named colour."""
    n = max(1, hsv.shape[0] * hsv.shape[1])
    return {name: float(colour_mask(hsv, spec).sum()) / n for name, spec in colours.items()}


@dataclass(frozen=True)
class Blob:
    """A connected component of a mask: xyxy box, pixel area and centroid, in the mask's pixels."""

    box: tuple[int, int, int, int]
    area: int
    cx: float
    cy: float

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]

    @property
    def fill(self) -> float:
        return self.area / max(1, self.width * self.height)


def blobs(mask: np.ndarray, min_area: int = 1) -> list[Blob]:
    """Connected components (8-connected) of a boolean mask, largest first."""
    import cv2

    if not mask.any():
        return []
    n, _labels, stats, cents = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    out = []
    for i in range(1, n):
        x, y, w, h, a = (int(v) for v in stats[i])
        if a >= min_area:
            out.append(Blob((x, y, x + w, y + h), a, float(cents[i][0]), float(cents[i][1])))
    out.sort(key=lambda b: (-b.area, b.box))
    return out


def sub_box(width: int, height: int, fx1: float, fy1: float, fx2: float, fy2: float) -> tuple[int, int, int, int]:
    """A fractional sub-rectangle of a width x height crop, as integer xyxy (at least 1 px)."""
    x1, y1 = int(round(fx1 * width)), int(round(fy1 * height))
    x2, y2 = max(x1 + 1, int(round(fx2 * width))), max(y1 + 1, int(round(fy2 * height)))
    return x1, y1, min(x2, width), min(y2, height)


def crop(
    rgb: np.ndarray, box: Sequence[float], pad: tuple[float, float, float, float] = (0, 0, 0, 0)
) -> tuple[np.ndarray, tuple[int, int]]:
    """The image region of an xyxy box, padded by fractions of its size (left, top, right, bottom), clipped.

    Returns the crop and its (x, y) offset in the image.
    """
    h, w = rgb.shape[:2]
    bw, bh = box[2] - box[0], box[3] - box[1]
    x1 = max(0, int(box[0] - pad[0] * bw))
    y1 = max(0, int(box[1] - pad[1] * bh))
    x2 = min(w, int(round(box[2] + pad[2] * bw)))
    y2 = min(h, int(round(box[3] + pad[3] * bh)))
    x2, y2 = max(x2, min(w, x1 + 1)), max(y2, min(h, y1 + 1))
    return rgb[y1:y2, x1:x2], (x1, y1)


_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalise_text(text: str) -> str:
    """Upper-case, accents and punctuation removed, spaces collapsed: for matching OCR output to markers."""
    t = unicodedata.normalize("NFKC", text).upper()
    return " ".join(_NON_WORD.sub(" ", t).split())


def edit_distance_at_most_one(a: str, b: str) -> bool:
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = j = 0
    edits = 0
    while i < len(a) and j < len(b):
        if a[i] != b[j]:
            edits += 1
            if edits > 1:
                return False
            if len(a) == len(b):
                i += 1
            j += 1
        else:
            i += 1
            j += 1
    return edits + (len(b) - j) + (len(a) - i) <= 1


def match_markers(
    texts: Iterable[str], markers: Sequence[str], fuzzy_min_len: int = 5, exclude: Iterable[str] = ()
) -> list[tuple[str, str]]:
    """(marker, text) pairs where a marker occurs in a text line.

    A marker matches as a whole word or word sequence; a single-word marker of `fuzzy_min_len`+ characters also
    matches an OCR word one edit away (POLICF, PCLICE). Markers in scripts without spaces (Chinese, Urdu) match
    as substrings. Words in `exclude` (real words one edit from a marker, such as POLICY) never match fuzzily.
    """
    found: list[tuple[str, str]] = []
    excluded = {normalise_text(e) for e in exclude}
    norm_markers = [(m, normalise_text(m)) for m in markers]
    for text in texts:
        norm = normalise_text(text)
        if not norm:
            continue
        words = [w for w in norm.split() if w not in excluded]
        padded = f" {norm} "
        compact = norm.replace(" ", "")
        for marker, nm in norm_markers:
            if not nm:
                continue
            hit = f" {nm} " in padded
            if not hit and not nm.isascii():
                hit = nm.replace(" ", "") in compact
            if not hit and " " not in nm and len(nm) >= fuzzy_min_len and nm.isascii():
                hit = any(edit_distance_at_most_one(w, nm) for w in words)
            if not hit and " " not in nm and len(nm) >= fuzzy_min_len + 1 and nm.isascii():
                # OCR often glues words together ("SINDHPOLICE", "POLICE911").
                hit = any(nm in w and len(w) <= len(nm) + 6 for w in words)
            if hit and (marker, text) not in found:
                found.append((marker, text))
    return found


def combine_scores(scores: Iterable[float]) -> float:
    """Noisy-OR of independent cue confidences."""
    p = 1.0
    for s in scores:
        p *= 1.0 - min(max(float(s), 0.0), 1.0)
    return 1.0 - p


def cue_details(results: Sequence[CueResult]) -> dict[str, Any]:
    """What a reviewer needs to check an official call: the cues that fired (with boxes), and why the others did not."""
    return {
        "cues": [c.to_dict() for c in results if c.found],
        "not_found": {c.cue: c.reason for c in results if not c.found},
    }


def with_overrides(config: Any, **updates: Any) -> Any:
    """A frozen config with the given fields replaced; None means 'keep the configured value'."""
    changed = {k: v for k, v in updates.items() if v is not None}
    return config.model_copy(update=changed) if changed else config


def region_words(ctx: Any, engine: Any, box: Sequence[float], *, max_side: int = 960, min_side: int = 400) -> list[Any]:
    """OCR of one region of the image (an object crop), memoised on the context, timed under stage "ocr".

    Small crops are upscaled to `min_side` so that a door marking 15 px high is readable; large ones are
    downscaled to `max_side` to bound the cost. Returned words are in image pixels.
    """
    import time

    import cv2

    from detectors.runtime.ocr import OcrWord

    key = ("ocr_region", id(engine), tuple(int(round(v)) for v in box), max_side, min_side)

    def run() -> list[OcrWord]:
        t0 = time.perf_counter()
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        region = ctx.rgb[max(0, y1) : max(y1 + 1, y2), max(0, x1) : max(x1 + 1, x2)]
        h, w = region.shape[:2]
        s = 1.0
        if max(h, w) > max_side:
            s = max_side / max(h, w)
        elif max(h, w) < min_side:
            s = min(3.0, min_side / max(h, w))
        if s != 1.0:
            region = cv2.resize(
                region,
                (max(1, round(w * s)), max(1, round(h * s))),
                interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC,
            )
        words = []
        if min(region.shape[:2]) >= 8:
            for wd in engine.read(np.ascontiguousarray(region)):
                quad = tuple((px / s + max(0, x1), py / s + max(0, y1)) for px, py in wd.quad)
                words.append(OcrWord(text=wd.text, score=wd.score, quad=quad))
        ctx.timings_ms["ocr"] = ctx.timings_ms.get("ocr", 0.0) + (time.perf_counter() - t0) * 1000
        return words

    if ctx.ocr_held_back():
        return []
    return ctx.memo(key, run)  # type: ignore[no-any-return]
