"""Synthetic document photos for tests: rendered pages photographed at an angle on a desk.

Real photos of official documents cannot be shipped (and must not be trained on), so tests render their own:
an A4-like page with a government letterhead, a file number, a form heading, body text, Urdu lines, a round
ink stamp and a designation under a signature; or a private company page with none of those. `photograph()`
warps a page onto a textured desk with a random perspective, lighting gradient, blur and noise. Plain scenes
and street-sign-like boards are the negatives.

Urdu is drawn with DejaVu Sans through Pillow's Raqm layout (shaping, right-to-left). DejaVu Sans lacks two
Urdu letters (ہ U+06C1, ے U+06D2); they are drawn with their Arabic look-alikes (ه, ي) so the line still looks
like Urdu. Where no font with Arabic glyphs is found, the Urdu lines are left out and `PageSpec.urdu` says so.

Everything is deterministic for a given `numpy.random.Generator` seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"), Path("/usr/share/fonts"))

LETTERHEADS = (
    ("GOVERNMENT OF SINDH", "SERVICES, GENERAL ADMINISTRATION & COORDINATION DEPARTMENT"),
    ("GOVERNMENT OF PAKISTAN", "MINISTRY OF INTERIOR"),
    ("GOVERNMENT OF THE PUNJAB", "HOME DEPARTMENT"),
    ("GOVERNMENT OF KHYBER PAKHTUNKHWA", "ESTABLISHMENT DEPARTMENT"),
    ("GOVERNMENT OF PAKISTAN", "CABINET SECRETARIAT, ESTABLISHMENT DIVISION"),
)
FILE_NUMBERS = (
    "No. SO(IX)CMS/Misc/07-07/2025",
    "F. No. 14/3/2022-D-II",
    "No. SO(A-I)/HD/4-12/2024",
    "No. E&A(SGA&CD)/3-45/2023",
)
FORM_HEADINGS = ("NOTIFICATION", "OFFICE MEMORANDUM", "OFFICE ORDER", "CIRCULAR", "CONFIDENTIAL")
DESIGNATIONS = ("SECTION OFFICER (ADMIN)", "DEPUTY SECRETARY (STAFF)", "DEPUTY COMMISSIONER", "ADDITIONAL SECRETARY")
URDU_LINES = ("حکومت سندھ", "اعلامیہ", "دفتری یادداشت", "حکومت پاکستان", "محکمہ داخلہ")
COMPANIES = ("SUNRISE TRADERS (PVT) LTD", "GREEN VALLEY FOODS", "NORTHWIND LOGISTICS CO.", "BLUE OCEAN TEXTILES")
PRIVATE_HEADINGS = ("INVOICE", "QUOTATION", "MEETING MINUTES", "PRODUCT LIST")
WORDS = (
    "the of and to in for on with by from at as this that which be is are was were will shall may any all "
    "report meeting staff members committee request matter review schedule budget district office building "
    "training week month year attached copy record details information following period service account "
    "delivery supply order payment date time place number amount total issued received approved"
).split()
# DejaVu Sans has no glyph for these Urdu letters; draw the Arabic look-alike instead.
_URDU_FALLBACK = str.maketrans({"\u06c1": "\u0647", "\u06d2": "\u064a"})


def find_font(bold: bool = False) -> Path | None:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    for d in FONT_DIRS:
        for p in (d / name, *d.rglob(name)) if d.is_dir() else ():
            if p.is_file():
                return p
    return None


def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = find_font(bold)
    if path is None:
        return ImageFont.load_default(size)
    return ImageFont.truetype(str(path), size)


def urdu_supported() -> bool:
    """Whether Urdu can be shaped right-to-left here (Raqm layout and a font with Arabic glyphs)."""
    from PIL import features

    return find_font() is not None and bool(features.check("raqm"))


@dataclass(frozen=True)
class PageSpec:
    official: bool
    letterhead: str = ""
    file_number: str = ""
    heading: str = ""
    designation: str = ""
    stamp: bool = False
    urdu: bool = False
    lines: tuple[str, ...] = field(default_factory=tuple)


def _sentence(rng: np.random.Generator, n_words: int) -> str:
    words = [WORDS[int(i)] for i in rng.integers(0, len(WORDS), n_words)]
    return " ".join(words).capitalize() + "."


def _draw_emblem(draw: ImageDraw.ImageDraw, cx: int, cy: int, r: int) -> None:
    """A crest-like emblem: green disc, white crescent and star."""
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(0, 100, 40), outline=(0, 60, 20), width=3)
    draw.ellipse((cx - r * 0.6, cy - r * 0.6, cx + r * 0.6, cy + r * 0.6), fill=(255, 255, 255))
    draw.ellipse((cx - r * 0.4, cy - r * 0.7, cx + r * 0.7, cy + r * 0.5), fill=(0, 100, 40))
    draw.regular_polygon((cx + r * 0.35, cy - r * 0.35, r * 0.18), 5, fill=(255, 255, 255))


def _draw_stamp(img: Image.Image, cx: int, cy: int, r: int, colour: tuple[int, int, int],
                rng: np.random.Generator) -> None:
    """A round office stamp: double ring of ink with text, slightly faded, on its own layer."""
    layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    alpha = int(rng.integers(170, 230))
    ink = (*colour, alpha)
    d.ellipse((cx - r, cy - r, cx + r, cy + r), outline=ink, width=max(3, r // 14))
    d.ellipse((cx - r * 0.72, cy - r * 0.72, cx + r * 0.72, cy + r * 0.72), outline=ink, width=max(2, r // 25))
    f = _font(max(10, r // 5), bold=True)
    d.text((cx, cy), "OFFICE", font=f, fill=ink, anchor="mm")
    img.alpha_composite(layer) if img.mode == "RGBA" else img.paste(layer, (0, 0), layer)


def _draw_urdu(draw: ImageDraw.ImageDraw, right_x: int, y: int, text: str, size: int) -> None:
    path = find_font()
    if path is None:
        return
    f = ImageFont.truetype(str(path), size, layout_engine=ImageFont.Layout.RAQM)
    draw.text((right_x, y), text.translate(_URDU_FALLBACK), font=f, fill=(20, 20, 20), direction="rtl",
              anchor="ra")


def render_page(rng: np.random.Generator, official: bool, *, urdu: bool = True, stamp: bool = True,
                size: tuple[int, int] = (850, 1100)) -> tuple[np.ndarray, PageSpec]:
    """An upright page (RGB uint8) and what was drawn on it."""
    w, h = size
    paper = tuple(int(v) for v in rng.integers(236, 256, 3))
    img = Image.new("RGB", (w, h), paper)
    draw = ImageDraw.Draw(img)
    margin = int(w * 0.09)
    y = int(h * 0.04)
    lines: list[str] = []
    big, mid, body = _font(34, bold=True), _font(24, bold=True), _font(21)
    use_urdu = urdu and urdu_supported()
    spec_kwargs: dict[str, object] = {}
    if official:
        head, dept = LETTERHEADS[int(rng.integers(len(LETTERHEADS)))]
        _draw_emblem(draw, w // 2, y + 45, 42)
        y += 100
        draw.text((w // 2, y), head, font=big, fill=(10, 10, 10), anchor="ma")
        y += 46
        draw.text((w // 2, y), dept, font=_font(19, bold=True), fill=(10, 10, 10), anchor="ma")
        y += 40
        if use_urdu:
            _draw_urdu(draw, w - margin, y, URDU_LINES[int(rng.integers(len(URDU_LINES)))], 30)
            y += 48
        number = FILE_NUMBERS[int(rng.integers(len(FILE_NUMBERS)))]
        draw.text((margin, y), number, font=body, fill=(10, 10, 10))
        draw.text((w - margin, y), "Karachi, dated the 14th March, 2025", font=_font(18), fill=(10, 10, 10),
                  anchor="ra")
        y += 50
        heading = FORM_HEADINGS[int(rng.integers(len(FORM_HEADINGS)))]
        draw.text((w // 2, y), heading, font=mid, fill=(10, 10, 10), anchor="ma")
        y += 50
        lines += [head, dept, number, heading]
        spec_kwargs.update(letterhead=head, file_number=number, heading=heading)
    else:
        company = COMPANIES[int(rng.integers(len(COMPANIES)))]
        draw.text((margin, y + 10), company, font=big, fill=(30, 30, 90))
        y += 70
        draw.text((margin, y), "Plot 12, Industrial Area, Phone 0300-0000000", font=_font(18), fill=(40, 40, 40))
        y += 50
        heading = PRIVATE_HEADINGS[int(rng.integers(len(PRIVATE_HEADINGS)))]
        draw.text((w // 2, y), heading, font=mid, fill=(10, 10, 10), anchor="ma")
        y += 50
        lines += [company, heading]
    n_body = int(rng.integers(14, 20))
    for _ in range(n_body):
        if y > h * 0.78:
            break
        text = _sentence(rng, int(rng.integers(7, 11)))
        draw.text((margin, y), text, font=body, fill=(25, 25, 25))
        lines.append(text)
        y += 31
    if official and use_urdu:
        _draw_urdu(draw, w - margin, y + 4, URDU_LINES[int(rng.integers(len(URDU_LINES)))], 26)
        y += 44
    # Signature scribble and designation.
    sx, sy = int(w * 0.62), int(h * 0.83)
    pts = [(sx + i * 6, sy + int(12 * np.sin(i * 0.9 + rng.uniform(0, 3)))) for i in range(30)]
    draw.line(pts, fill=(20, 30, 120), width=3)
    if official:
        designation = DESIGNATIONS[int(rng.integers(len(DESIGNATIONS)))]
        draw.text((sx + 90, sy + 30), designation, font=_font(19, bold=True), fill=(10, 10, 10), anchor="ma")
        lines.append(designation)
        spec_kwargs["designation"] = designation
        if stamp:
            colour = ((40, 50, 170), (110, 40, 150), (170, 30, 40))[int(rng.integers(3))]
            _draw_stamp(img, int(w * 0.3), int(h * 0.86), int(rng.integers(55, 75)), colour, rng)
    else:
        draw.text((sx + 90, sy + 30), "Accounts Manager", font=_font(19), fill=(10, 10, 10), anchor="ma")
    spec = PageSpec(official=official, stamp=official and stamp, urdu=official and use_urdu, lines=tuple(lines),
                    **spec_kwargs)  # type: ignore[arg-type]
    return np.asarray(img, dtype=np.uint8), spec


def desk_texture(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A wood- or cloth-like background: coloured low-frequency noise with streaks."""
    base = np.array(rng.integers(60, 170, 3), dtype=np.float32)
    noise = rng.normal(0, 1, (height // 8 + 1, width // 8 + 1)).astype(np.float32)
    noise = cv2.resize(cv2.GaussianBlur(noise, (0, 0), 2), (width, height), interpolation=cv2.INTER_CUBIC)
    streaks = np.sin(np.linspace(0, rng.uniform(20, 60), height, dtype=np.float32))[:, None] * rng.uniform(4, 12)
    tex = base[None, None, :] + (noise[..., None] * 14) + streaks[..., None]
    return np.clip(tex, 0, 255).astype(np.uint8)


def photograph(page: np.ndarray, rng: np.random.Generator, *, size: tuple[int, int] = (1280, 960),
               fill: float = 0.75, blur: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """The page as a phone photo on a desk: perspective, lighting, blur, noise. Returns (rgb, page corners)."""
    w, h = size
    ph, pw = page.shape[:2]
    bg = desk_texture(rng, w, h).astype(np.float32)
    # Target quadrilateral: page scaled to `fill` of the height, corners jittered for perspective.
    scale = fill * h / ph
    tw, th = pw * scale, ph * scale
    cx, cy = w / 2 + rng.uniform(-0.08, 0.08) * w, h / 2 + rng.uniform(-0.04, 0.04) * h
    jitter = 0.07
    corners = np.array([[cx - tw / 2, cy - th / 2], [cx + tw / 2, cy - th / 2],
                        [cx + tw / 2, cy + th / 2], [cx - tw / 2, cy + th / 2]], dtype=np.float32)
    corners += rng.uniform(-jitter, jitter, (4, 2)).astype(np.float32) * np.array([tw, th], dtype=np.float32)
    angle = np.deg2rad(rng.uniform(-6, 6))
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]], dtype=np.float32)
    corners = (corners - [cx, cy]) @ rot.T + [cx, cy]
    src = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], dtype=np.float32)
    m = cv2.getPerspectiveTransform(src, corners.astype(np.float32))
    warped = cv2.warpPerspective(page, m, (w, h), flags=cv2.INTER_AREA).astype(np.float32)
    mask = cv2.warpPerspective(np.ones((ph, pw), np.float32), m, (w, h), flags=cv2.INTER_LINEAR)[..., None]
    out = warped * mask + bg * (1 - mask)
    # Uneven light: a linear gradient across the image.
    gx = np.linspace(rng.uniform(0.8, 1.0), rng.uniform(0.9, 1.05), w, dtype=np.float32)[None, :, None]
    out = out * gx
    if blur > 0:
        out = cv2.GaussianBlur(out, (0, 0), blur)
    out += rng.normal(0, 3, out.shape).astype(np.float32)
    return np.clip(out, 0, 255).astype(np.uint8), corners


def scan(page: np.ndarray, rng: np.random.Generator, *, size: int = 1100) -> np.ndarray:
    """The page as a flatbed scan or screenshot: upright, slightly grey, mild noise."""
    ph, pw = page.shape[:2]
    s = size / max(ph, pw)
    img = cv2.resize(page, (round(pw * s), round(ph * s)), interpolation=cv2.INTER_AREA).astype(np.float32)
    img = img * rng.uniform(0.9, 1.0) + rng.normal(0, 2, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def plain_photo(rng: np.random.Generator, size: tuple[int, int] = (1280, 960)) -> np.ndarray:
    """A scene without text: sky gradient, ground texture, coloured shapes (cars, people, trees as blobs)."""
    w, h = size
    img = desk_texture(rng, w, h)
    horizon = int(h * rng.uniform(0.35, 0.6))
    sky = np.linspace(rng.uniform(150, 220), rng.uniform(200, 255), horizon, dtype=np.float32)[:, None, None]
    img[:horizon] = np.clip(sky * np.array([0.75, 0.85, 1.0], dtype=np.float32), 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(4, 10))):
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        x, y = int(rng.integers(0, w)), int(rng.integers(horizon // 2, h))
        ax, ay = int(rng.integers(30, 200)), int(rng.integers(30, 160))
        cv2.ellipse(img, (x, y), (ax, ay), float(rng.uniform(0, 180)), 0, 360, colour, -1)
        if rng.random() < 0.5:
            cv2.rectangle(img, (x, y), (x + ax, y + ay // 2), colour, -1)
    return cv2.GaussianBlur(img, (3, 3), 0)


def signboard_photo(rng: np.random.Generator, size: tuple[int, int] = (1280, 960)) -> np.ndarray:
    """A street scene with one big shop board: a few large words, not a document."""
    img = plain_photo(rng, size)
    w, h = size
    board = Image.new("RGB", (int(w * 0.6), int(h * 0.22)), tuple(int(c) for c in rng.integers(0, 120, 3)))
    d = ImageDraw.Draw(board)
    d.text((board.width // 2, board.height // 2 - 30), "CITY BAKERS", font=_font(70, bold=True),
           fill=(255, 240, 200), anchor="mm")
    d.text((board.width // 2, board.height // 2 + 45), "Cakes & Sweets", font=_font(40), fill=(255, 255, 255),
           anchor="mm")
    if urdu_supported():
        _draw_urdu(d, board.width - 20, 8, "بیکری", 36)
    x, y = int(w * 0.2), int(h * 0.15)
    img[y:y + board.height, x:x + board.width] = np.asarray(board)
    return img
