"""Flags: the Pakistan flag by colour and shape (and its five-point star alone), and rows of flags of any country."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np

from detectors.base import downscale
from detectors.insignia.config import (
    FlagOptions,
    FlagRowOptions,
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


