"""Round office stamps on a page, and the redacted preview a reviewer sees."""

from __future__ import annotations

import base64
import math
from typing import Any

import cv2
import numpy as np

from detectors.base import downscale
from detectors.documents.page import (
    Page,
)

# --------------------------------------------------------------------------------------------- stamps


def find_stamps(rgb: np.ndarray, box: tuple[float, float, float, float], side: int = 480) -> list[dict[str, Any]]:
    """Coloured (blue, violet, red, green ink) round stamps on and around the page, by colour mask + Hough.

    A stamp is a ring of saturated ink (a line, or lettering set on a circle) on paper; we keep circles whose
    rim band is inked all round and whose inside is mostly paper (a filled disc is an emblem or a photo).
    The search covers the page box grown by a sixth, since stamps often sit in the margin beside the text.
    """
    h0, w0 = rgb.shape[:2]
    bw, bh = box[2] - box[0], box[3] - box[1]
    x1, y1 = int(max(0, box[0] - bw / 6)), int(max(0, box[1] - bh / 6))
    x2, y2 = int(min(w0, box[2] + bw / 6)), int(min(h0, box[3] + bh / 6))
    crop = rgb[y1:y2, x1:x2]
    h, w = crop.shape[:2]
    if min(h, w) < 40:
        return []
    small, s = downscale(crop, side)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    ink = (sat >= 40) & (val >= 50) & (val <= 235)
    ink_mask = (ink.astype(np.uint8)) * 255
    if cv2.countNonZero(ink_mask) < 0.001 * ink_mask.size:
        return []
    sh, sw = ink_mask.shape
    min_r, max_r = max(8, int(0.04 * min(sh, sw))), max(10, int(0.25 * min(sh, sw)))
    circles = cv2.HoughCircles(cv2.GaussianBlur(ink_mask, (7, 7), 0), cv2.HOUGH_GRADIENT, dp=1.5,
                               minDist=2 * min_r, param1=100, param2=20, minRadius=min_r, maxRadius=max_r)
    found: list[dict[str, Any]] = []
    if circles is None:
        return found
    angles = np.linspace(0, 2 * np.pi, 72, endpoint=False)
    bands = np.linspace(0.8, 1.3, 8)  # Hough radii of lettered rings run short
    cos, sin = np.cos(angles)[:, None], np.sin(angles)[:, None]
    for cx, cy, r in circles[0][:12]:
        px = np.clip(np.round(cx + r * bands[None, :] * cos).astype(int), 0, sw - 1)
        py = np.clip(np.round(cy + r * bands[None, :] * sin).astype(int), 0, sh - 1)
        rim = float(ink[py, px].any(axis=1).mean())
        if rim < 0.7:
            continue
        disc = np.zeros_like(ink_mask)
        cv2.circle(disc, (int(cx), int(cy)), int(r), 255, -1)
        inside = disc > 0
        if float(ink[inside].mean()) > 0.45:
            continue
        hues = hue[inside & ink]
        colour = _ink_colour(float(np.median(hues))) if hues.size else "unknown"
        found.append({
            "centre": [round(x1 + float(cx) / s, 1), round(y1 + float(cy) / s, 1)],
            "radius": round(float(r) / s, 1),
            "rim_ink": round(rim, 2),
            "colour": colour,
        })
    return found


def _ink_colour(h: float) -> str:
    if h < 10 or h >= 160:
        return "red"
    if 35 <= h < 85:
        return "green"
    if 85 <= h < 130:
        return "blue"
    if 130 <= h < 160:
        return "violet"
    return "other"


# --------------------------------------------------------------------------------------------- preview


def redacted_preview(rgb: np.ndarray, page: Page, side: int = 320, quality: int = 70) -> str:
    """The page with every text line pixelated, as a small base64 JPEG: layout, stamps, emblem, no content."""
    h, w = rgb.shape[:2]
    x1, y1, x2, y2 = (int(round(v)) for v in page.box)
    crop = rgb[y1:y2, x1:x2]
    ch, cw = crop.shape[:2]
    s = min(1.0, side / max(ch, cw))
    out = cv2.resize(crop, (max(1, round(cw * s)), max(1, round(ch * s))), interpolation=cv2.INTER_AREA)
    for ln in page.lines:
        lx1, ly1, lx2, ly2 = ln.box
        pad = ln.height * 0.25
        a = max(0, int((lx1 - pad - x1) * s))
        b = max(0, int((ly1 - pad - y1) * s))
        c = min(out.shape[1], int(math.ceil((lx2 + pad - x1) * s)))
        d = min(out.shape[0], int(math.ceil((ly2 + pad - y1) * s)))
        if c - a < 2 or d - b < 2:
            continue
        region = out[b:d, a:c]
        cell = max(2, int(round(ln.height * s * 0.6)))
        tiny = cv2.resize(region, (max(1, region.shape[1] // cell), max(1, region.shape[0] // cell)),
                          interpolation=cv2.INTER_AREA)
        out[b:d, a:c] = cv2.GaussianBlur(cv2.resize(tiny, (region.shape[1], region.shape[0]),
                                                    interpolation=cv2.INTER_NEAREST), (3, 3), 0)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(out, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return base64.b64encode(buf.tobytes()).decode("ascii") if ok else ""


