"""Draws the stand-in emblem gallery shipped in detectors/data/gallery/ (and variants for benchmarks).

The project cannot lawfully ship real government emblems, so it ships its own drawings in the same visual
idiom (crescent and star roundel, police shield badge, wreath crest, ministry seal). They exercise the matcher
end to end; an operator adds the real emblems with `assetscreen gallery add NAME IMAGE`.

    python datasets/make_gallery.py            # rewrite detectors/data/gallery/*.png and gallery.yaml
    python datasets/make_gallery.py --out DIR  # somewhere else

Everything is drawn with OpenCV primitives and Hershey fonts, so the output does not depend on system fonts.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import cv2
import numpy as np
import yaml

SIZE = 400
GREEN = (1, 65, 28)
WHITE = (255, 255, 255)
GOLD = (212, 175, 55)
NAVY = (20, 40, 110)
RED = (190, 30, 40)
BLACK = (0, 0, 0)
FONT = cv2.FONT_HERSHEY_DUPLEX


def _star(img: np.ndarray, centre: tuple[float, float], r: float, colour: tuple[int, ...], rot: float = 0.0) -> None:
    pts = []
    for k in range(10):
        rad = r if k % 2 == 0 else r * 0.42
        a = rot - math.pi / 2 + k * math.pi / 5
        pts.append((centre[0] + rad * math.cos(a), centre[1] + rad * math.sin(a)))
    cv2.fillPoly(img, [np.round(np.array(pts)).astype(np.int32)], colour, cv2.LINE_AA)


def _crescent(
    img: np.ndarray,
    centre: tuple[int, int],
    r: int,
    colour: tuple[int, ...],
    bg: tuple[int, ...],
    offset: tuple[int, int] = (12, -8),
) -> None:
    cv2.circle(img, centre, r, colour, -1, cv2.LINE_AA)
    cv2.circle(img, (centre[0] + offset[0], centre[1] + offset[1]), int(r * 0.82), bg, -1, cv2.LINE_AA)


def _text_centred(
    img: np.ndarray, text: str, cy: int, scale: float, colour: tuple[int, ...], thick: int = 2, cx: int = SIZE // 2
) -> None:
    (w, h), _ = cv2.getTextSize(text, FONT, scale, thick)
    cv2.putText(img, text, (cx - w // 2, cy + h // 2), FONT, scale, colour, thick, cv2.LINE_AA)


def _ring_text(
    img: np.ndarray,
    text: str,
    radius: int,
    scale: float,
    colour: tuple[int, ...],
    start_deg: float = 200.0,
    span_deg: float = 140.0,
) -> None:
    """Letters placed along an arc (each upright), like the lettering round a seal."""
    c = SIZE // 2
    n = max(len(text), 2)
    for k, ch in enumerate(text):
        a = math.radians(start_deg + span_deg * k / (n - 1))
        x, y = c + radius * math.cos(a), c + radius * math.sin(a)
        (w, h), _ = cv2.getTextSize(ch, FONT, scale, 2)
        cv2.putText(img, ch, (int(x - w / 2), int(y + h / 2)), FONT, scale, colour, 2, cv2.LINE_AA)


def _leaf_wreath(img: np.ndarray, radius: int, colour: tuple[int, ...], leaves: int = 14) -> None:
    c = SIZE // 2
    for side in (-1, 1):
        for k in range(leaves):
            a = math.radians(100 + side * 0 + (k * 150 / leaves)) if side > 0 else math.radians(80 - k * 150 / leaves)
            x, y = c + radius * math.cos(a), c + radius * math.sin(a)
            ang = math.degrees(a) + 90 + side * 25
            cv2.ellipse(img, (int(x), int(y)), (16, 6), ang, 0, 360, colour, -1, cv2.LINE_AA)


def draw_crescent_star_seal() -> np.ndarray:
    """A green roundel: crescent and star over a quartered shield, lettering round the edge."""
    img = np.full((SIZE, SIZE, 3), 255, np.uint8)
    c = SIZE // 2
    cv2.circle(img, (c, c), 190, GREEN, -1, cv2.LINE_AA)
    cv2.circle(img, (c, c), 182, WHITE, 3, cv2.LINE_AA)
    cv2.circle(img, (c, c), 128, WHITE, 2, cv2.LINE_AA)
    _ring_text(img, "GOVERNMENT OF", 155, 0.8, WHITE, 205, 130)
    _ring_text(img, "PAKISTAN", 155, 0.8, WHITE, 140, -100)
    _crescent(img, (c, 112), 34, WHITE, GREEN, (10, -8))
    _star(img, (c + 22, 100), 11, WHITE, 0.3)
    shield = np.array([[c - 60, 145], [c + 60, 145], [c + 60, 215], [c, 262], [c - 60, 215]], np.int32)
    cv2.fillPoly(img, [shield], WHITE, cv2.LINE_AA)
    cv2.line(img, (c, 145), (c, 255), GREEN, 3)
    cv2.line(img, (c - 60, 195), (c + 60, 195), GREEN, 3)
    for dx, dy, sym in ((-30, 170, "cotton"), (30, 170, "wheat"), (-30, 222, "tea"), (30, 222, "jute")):
        x, y = c + dx, dy
        if sym == "wheat":
            for k in range(5):
                cv2.ellipse(img, (x, y - 14 + 7 * k), (7, 3), 30, 0, 360, GREEN, -1)
        elif sym == "cotton":
            for ox, oy in ((-7, 0), (7, 0), (0, -8), (0, 8)):
                cv2.circle(img, (x + ox, y + oy), 6, GREEN, 2)
        elif sym == "tea":
            cv2.ellipse(img, (x, y), (14, 8), -30, 0, 360, GREEN, -1)
            cv2.line(img, (x - 12, y + 8), (x + 12, y - 8), WHITE, 2)
        else:
            for k in range(-2, 3):
                cv2.line(img, (x + 4 * k, y - 14), (x + 4 * k, y + 14), GREEN, 2)
    _leaf_wreath(img, 110, (120, 190, 120), 9)
    cv2.rectangle(img, (c - 80, 268), (c + 80, 300), WHITE, -1)
    _text_centred(img, "UNITY FAITH", 284, 0.6, GREEN, 2)
    return img


def draw_police_shield() -> np.ndarray:
    """A police-style shield badge: blue over red, star at the top, a ribbon with lettering."""
    img = np.full((SIZE, SIZE, 3), 255, np.uint8)
    c = SIZE // 2
    outline = np.array([[60, 40], [340, 40], [340, 220], [c, 370], [60, 220]], np.int32)
    cv2.fillPoly(img, [outline], NAVY, cv2.LINE_AA)
    lower = np.array([[60, 200], [340, 200], [340, 220], [c, 370], [60, 220]], np.int32)
    cv2.fillPoly(img, [lower], RED, cv2.LINE_AA)
    cv2.polylines(img, [outline], True, GOLD, 6, cv2.LINE_AA)
    _star(img, (c, 85), 30, GOLD)
    cv2.circle(img, (c, 165), 55, WHITE, -1, cv2.LINE_AA)
    cv2.circle(img, (c, 165), 55, GOLD, 4, cv2.LINE_AA)
    _text_centred(img, "SP", 160, 1.5, NAVY, 3)
    for k in range(8):
        a = math.radians(k * 45)
        cv2.line(
            img,
            (int(c + 62 * math.cos(a)), int(165 + 62 * math.sin(a))),
            (int(c + 78 * math.cos(a)), int(165 + 78 * math.sin(a))),
            GOLD,
            4,
            cv2.LINE_AA,
        )
    cv2.rectangle(img, (80, 240), (320, 280), WHITE, -1)
    cv2.rectangle(img, (80, 240), (320, 280), GOLD, 3)
    _text_centred(img, "SINDH POLICE", 260, 0.85, NAVY, 2)
    _text_centred(img, "PROUD TO SERVE", 310, 0.55, WHITE, 2)
    for k in range(5):
        _star(img, (c - 48 + 24 * k, 338 - abs(k - 2) * 4), 6, WHITE)
    return img


def draw_wreath_crest() -> np.ndarray:
    """A wreath crest: laurel ring, crossed swords, crescent and star, a scroll underneath."""
    img = np.full((SIZE, SIZE, 3), 255, np.uint8)
    c = SIZE // 2
    _leaf_wreath(img, 150, (30, 100, 40), 16)
    cv2.circle(img, (c, c - 10), 118, (30, 100, 40), 3, cv2.LINE_AA)
    for sgn in (-1, 1):
        p1 = (c - sgn * 95, c + 80)
        p2 = (c + sgn * 85, c - 95)
        cv2.line(img, p1, p2, (150, 150, 160), 9, cv2.LINE_AA)
        cv2.line(img, p1, p2, (90, 90, 100), 2, cv2.LINE_AA)
        hx, hy = c - sgn * 80, c + 65
        cv2.line(img, (hx - 14, hy - 14 * sgn), (hx + 14, hy + 14 * sgn), GOLD, 7, cv2.LINE_AA)
    _crescent(img, (c, c - 25), 52, (30, 100, 40), WHITE, (16, -12))
    _star(img, (c + 30, c - 45), 17, (30, 100, 40), 0.25)
    scroll = np.array([[70, 300], [330, 300], [315, 322], [330, 344], [70, 344], [85, 322]], np.int32)
    cv2.fillPoly(img, [scroll], GOLD, cv2.LINE_AA)
    _text_centred(img, "ARMY", 322, 0.9, BLACK, 2)
    _text_centred(img, "FORCES", 372, 0.8, (30, 100, 40), 2)
    return img


def draw_ministry_seal() -> np.ndarray:
    """A ministry seal: double ring with lettering, a columned building and a crescent over it."""
    img = np.full((SIZE, SIZE, 3), 255, np.uint8)
    c = SIZE // 2
    cv2.circle(img, (c, c), 188, NAVY, 8, cv2.LINE_AA)
    cv2.circle(img, (c, c), 130, NAVY, 3, cv2.LINE_AA)
    _ring_text(img, "MINISTRY OF", 158, 0.75, NAVY, 215, 110)
    _ring_text(img, "INTERIOR", 158, 0.75, NAVY, 130, -80)
    cv2.rectangle(img, (c - 80, 230), (c + 80, 245), NAVY, -1)
    cv2.fillPoly(img, [np.array([[c - 85, 160], [c + 85, 160], [c, 118]], np.int32)], NAVY, cv2.LINE_AA)
    for k in range(5):
        x = c - 64 + 32 * k
        cv2.rectangle(img, (x - 7, 168), (x + 7, 228), NAVY, -1)
    _crescent(img, (c - 8, 90), 18, GOLD, WHITE, (6, -4))
    _star(img, (c + 14, 84), 7, GOLD)
    _text_centred(img, "ISLAMABAD", 272, 0.6, NAVY, 2)
    return img


EMBLEMS = {
    "gop_crescent_seal": (draw_crescent_star_seal, "Government of Pakistan (stand-in drawing)"),
    "police_shield": (draw_police_shield, "Sindh Police (stand-in drawing)"),
    "army_wreath_crest": (draw_wreath_crest, "Pakistan Army (stand-in drawing)"),
    "ministry_seal": (draw_ministry_seal, "Ministry of Interior (stand-in drawing)"),
}


def draw_variant(seed: int) -> np.ndarray:
    """A distinct synthetic emblem per seed (benchmarks need many gallery entries): random roundel/shield
    layout, colours, stars, rings and lettering."""
    rng = np.random.default_rng(seed)
    img = np.full((SIZE, SIZE, 3), 255, np.uint8)
    c = SIZE // 2
    main = tuple(int(v) for v in rng.integers(0, 160, 3))
    accent = tuple(int(v) for v in rng.integers(120, 256, 3))
    if rng.random() < 0.5:
        cv2.circle(img, (c, c), 185, main, -1, cv2.LINE_AA)
    else:
        cv2.fillPoly(img, [np.array([[50, 40], [350, 40], [350, 230], [c, 370], [50, 230]], np.int32)], main)
    for _ in range(int(rng.integers(2, 5))):
        cv2.circle(img, (c, c), int(rng.integers(60, 175)), accent, int(rng.integers(2, 6)), cv2.LINE_AA)
    for _ in range(int(rng.integers(2, 6))):
        _star(
            img,
            (float(rng.integers(90, 310)), float(rng.integers(90, 310))),
            float(rng.integers(8, 30)),
            accent,
            float(rng.uniform(0, 1)),
        )
    letters = "ABCDEFGHIJKLMNOPRSTUVWXYZ"
    word = "".join(letters[int(i)] for i in rng.integers(0, len(letters), int(rng.integers(6, 12))))
    _ring_text(img, word, 150, 0.8, accent, float(rng.uniform(150, 230)), float(rng.uniform(100, 160)))
    word2 = "".join(letters[int(i)] for i in rng.integers(0, len(letters), 4))
    _text_centred(img, word2, int(rng.integers(170, 240)), 1.2, accent, 3)
    return img


def textured_scene(seed: int, height: int = 720, width: int = 960) -> np.ndarray:
    """A cluttered 'room' to hide emblems in: smooth colour field, furniture-like boxes, lines and text."""
    rng = np.random.default_rng(seed)
    small = rng.integers(60, 200, (6, 8, 3)).astype(np.uint8)
    img = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    noise = rng.normal(0, 8, (height, width, 3))
    img = np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    for _ in range(14):
        c = tuple(int(v) for v in rng.integers(0, 255, 3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        cv2.rectangle(img, (x, y), (x + int(rng.integers(40, 300)), y + int(rng.integers(30, 200))), c, -1)
    for _ in range(20):
        c = tuple(int(v) for v in rng.integers(0, 255, 3))
        p1 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        p2 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.line(img, p1, p2, c, int(rng.integers(1, 4)), cv2.LINE_AA)
    for k in range(4):
        x, y = int(rng.integers(0, width - 200)), int(rng.integers(30, height))
        cv2.putText(img, f"ROOM {seed}{k} NOTICE", (x, y), FONT, 0.7, (20, 20, 20), 2, cv2.LINE_AA)
    return img


def paste_warped(
    scene: np.ndarray,
    emblem: np.ndarray,
    centre: tuple[float, float],
    size: float,
    angle_deg: float = 0.0,
    tilt: float = 0.0,
    occlude: float = 0.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Paste `emblem` into `scene`: scaled to `size` px, rotated, perspective-tilted (0..0.4: one side
    shrinks by that fraction) and with a fraction `occlude` of its width covered by a bar. Returns the new
    scene and the emblem's outline (4x2, scene pixels)."""
    h, w = emblem.shape[:2]
    half = size / 2
    a = math.radians(angle_deg)
    corners = np.array([[-half, -half], [half, -half], [half, half], [-half, half]], np.float64)
    corners[1, 1] *= 1 - tilt  # right side shorter: a view from the left
    corners[2, 1] *= 1 - tilt
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    dst = (corners @ rot.T + np.array(centre)).astype(np.float32)
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    hom = cv2.getPerspectiveTransform(src, dst)
    sh, sw = scene.shape[:2]
    warped = cv2.warpPerspective(emblem, hom, (sw, sh), flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), hom, (sw, sh), flags=cv2.INTER_NEAREST) > 0
    out = scene.copy()
    out[mask] = warped[mask]
    if occlude > 0:
        rng = np.random.default_rng(seed)
        xs, ys = dst[:, 0], dst[:, 1]
        bar_w = occlude * (xs.max() - xs.min())
        x0 = xs.max() - bar_w
        colour = tuple(int(v) for v in rng.integers(0, 255, 3))
        cv2.rectangle(out, (int(x0), int(ys.min()) - 5), (int(xs.max()) + 5, int(ys.max()) + 5), colour, -1)
    return out, dst


def write_gallery(out: Path) -> list[dict[str, str]]:
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for name, (draw, body) in EMBLEMS.items():
        file = f"{name}.png"
        cv2.imwrite(str(out / file), cv2.cvtColor(draw(), cv2.COLOR_RGB2BGR))
        entries.append({"name": name, "file": file, "body": body})
    doc = {"emblems": entries}
    header = "# Emblem gallery: name, image file (next to this file), the body it stands for.\n"
    header += "# The shipped entries are the project's own drawings (datasets/make_gallery.py), not real emblems.\n"
    (out / "gallery.yaml").write_text(header + yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return entries


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "detectors/data/gallery")
    args = ap.parse_args()
    for e in write_gallery(args.out):
        print(f"wrote {args.out / e['file']}  ({e['body']})")


if __name__ == "__main__":
    main()
