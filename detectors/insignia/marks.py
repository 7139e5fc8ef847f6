"""Printed marks: letterhead crests on pages and round lettered seals and logos."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from detectors.base import ImageContext, downscale

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


