"""Safe decoding of uploaded media from bytes into RGB arrays.

Everything a client sends passes through here before any detector sees it. Caps on bytes, pixels and sides, and
an estimate of what decoding will cost (`decode_cost`: the raster, any full-size copy, every frame an animation
decodes), are checked from the header before pixel data is decoded, so a decompression bomb costs nothing.
Pillow's own bomb guard stays on at the pixel cap as a second line. A large image is shrunk inside Pillow (JPEG
DCT scaling, then box averaging) before it becomes an array, so a 60 MP 16-bit or float image costs about its
decoded raster, not gigabytes of float64. The result is always HxWx3 uint8 RGB with EXIF orientation applied:
palette, alpha (composited on white), CMYK, 16-bit and float images are converted. Animated GIF/WebP and videos
yield evenly spaced frames.

Pillow's plugins raise almost anything on a malformed file (OSError, SyntaxError, ValueError, TypeError,
IndexError, KeyError, struct.error, ZeroDivisionError...). Those are caught around the Pillow calls only and
become BadInput with a fixed message, never the exception's text (it can quote the upload); an exception from
our own code is not caught here. File names are shown in messages only after `safe_name`.
"""

from __future__ import annotations

import io
import logging
import math
import os
import re
import stat
import struct
import tempfile
import unicodedata
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from PIL import (  # noqa: F401  (registers the openers PILLOW_OPENERS names)
    BmpImagePlugin,
    GifImagePlugin,
    Image,
    JpegImagePlugin,
    PngImagePlugin,
    TiffImagePlugin,
    UnidentifiedImageError,
    WebPImagePlugin,
)

from detectors.errors import BadInput, MediaTooLarge, UnsupportedMedia
from detectors.evidence import PostImage
from service.settings import MediaLimits

log = logging.getLogger(__name__)

IMAGE_FORMATS = {"JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "MPO"}
# The only parsers Pillow may run on an upload (its JPEG opener gives MPO files their own class); an exotic plugin's
# header parser never sees hostile bytes.
PILLOW_OPENERS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
VIDEO_SIGNATURES = (b"ftyp", b"\x1aE\xdf\xa3", b"RIFF")  # MP4/MOV (at offset 4), Matroska/WebM, AVI

# What Pillow raises on a malformed file: its documented OSError/SyntaxError/ValueError/EOFError, and what its
# Python parsers raise on values of the wrong type or size. Fuzzing found OverflowError (a 64-bit TIFF strip offset,
# a 500 before) and TypeError (TIFF tags of the wrong type: strip offsets as text, XMP as numbers); IndexError,
# KeyError, struct.error, ZeroDivisionError and zlib.error come from the same parsers' index, unpack, divide and
# inflate calls on short or zeroed fields.
PILLOW_ERRORS: tuple[type[BaseException], ...] = (
    OSError, SyntaxError, ValueError, EOFError, TypeError, IndexError, KeyError, struct.error, ZeroDivisionError,
    OverflowError, zlib.error,
)

# Pillow's bomb guard (it warns above MAX_IMAGE_PIXELS and refuses above twice that), on at the default pixel cap;
# `_pillow_guard` raises it to a larger configured cap, never lowers it to None.
Image.MAX_IMAGE_PIXELS = MediaLimits.model_fields["max_pixels"].default
# Between the cap and twice it Pillow only warns; `_check_size` refuses those images from the same header at once.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

# Each animation frame Pillow decodes costs at least this much: its per-frame work is ~90 us even for a 1x1 frame
# (measured on GIF), so a file of a million tiny frames is refused instead of decoded for minutes.
FRAME_COST_FLOOR = 64 * 1024

# EXIF orientation -> the transpose that shows the image upright (as ImageOps.exif_transpose does)
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# Characters never shown from a client's file name: bidi overrides and isolates (they disguise an extension)
_BIDI_CONTROLS = frozenset([0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)])


@dataclass(frozen=True)
class DecodedMedia:
    frames: tuple[PostImage, ...]
    format: str
    original_size: tuple[int, int]  # (width, height) before any downscale


def safe_name(name: object, limit: int = 120) -> str:
    """A client's file name fit to show in a message or a result: its last path component, with control, bidi and
    unencodable characters replaced by "?", at most `limit` characters; "upload" when nothing is left."""
    text = name if isinstance(name, str) else ""
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates from a badly decoded header
    text = "".join(
        "?" if unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") or ord(c) in _BIDI_CONTROLS else c for c in text
    )
    if len(text) > limit:
        text = text[: limit - 1] + "\u2026"
    text = text.strip()
    return text if text and text not in (".", "..") else "upload"


def bytes_per_pixel(mode: str) -> int:
    """Bytes Pillow holds per pixel of a decoded image in `mode` (it stores 3-band modes in 4 bytes)."""
    if mode in ("1", "L", "P"):
        return 1
    if mode.startswith("I;16"):
        return 2
    return 4


def decode_cost(width: int, height: int, mode: str, frames: int = 1) -> int:
    """Bytes decoding will hold or touch, estimated from the header before any pixel is decoded: the decoded raster,
    plus a full-size copy for palette and 1-bit images (they cannot be reduced as they are); an animation also
    decodes every later frame up to the last one sampled, each on a 4-byte canvas and at least FRAME_COST_FLOOR."""
    pixels = width * height
    extra = 4 if mode in ("P", "PA") else (1 if mode == "1" else 0)
    first = pixels * (bytes_per_pixel(mode) + extra)
    return first + max(0, frames - 1) * max(pixels * 4, FRAME_COST_FLOOR)


def jpeg_scan_cost(width: int, height: int, scans: int) -> int:
    """What a progressive JPEG's scans beyond JPEG_FREE_SCANS add to the decoding cost: each is another pass over
    every 8x8 block, whatever the draft scale (measured: 1.7 ms per megapixel; a 48 KB file of 2000 repeated scans
    of a 3 MP image took 10 s). Counted as 1 byte per pixel per scan, so the default budget allows about 1 s."""
    return max(0, scans - JPEG_FREE_SCANS) * width * height


def _check_size(w: int, h: int, limits: MediaLimits, name: str) -> None:
    if w < 1 or h < 1:
        raise BadInput(f"{name}: image has no pixels ({w}x{h})")
    if max(w, h) > limits.max_side or w * h > limits.max_pixels:
        raise MediaTooLarge(
            f"{name}: image is {w}x{h} ({w * h / 1e6:.0f} MP); the limit is {limits.max_pixels / 1e6:.0f} MP "
            f"and {limits.max_side} px per side"
        )


def _pillow_guard(limits: MediaLimits) -> None:
    """Keep Pillow's bomb guard on, at least at the configured pixel cap (an operator may raise the cap)."""
    guard = Image.MAX_IMAGE_PIXELS
    if guard is None or guard < limits.max_pixels:
        Image.MAX_IMAGE_PIXELS = limits.max_pixels


def _corruption(exc: BaseException) -> str:
    """What went wrong, in words that quote nothing from the file."""
    text = str(exc).lower()
    if isinstance(exc, EOFError) or "truncated" in text or "premature end" in text:
        return "truncated"
    if "broken data stream" in text:
        return "broken image data"
    return f"malformed header or data: {type(exc).__name__}"


@contextmanager
def _pillow_errors(name: str) -> Iterator[None]:
    """Pillow's exceptions on a hostile file as the project's. Wraps Pillow calls only, never our own code."""
    try:
        yield
    except UnidentifiedImageError:
        raise UnsupportedMedia(
            f"{name}: not a recognised image (corrupt, or not JPEG, PNG, WebP, GIF, BMP or TIFF)") from None
    except Image.DecompressionBombError as exc:
        declared = re.search(r"\((\d+) pixels\)", str(exc))
        size = f" declares {int(declared.group(1)) / 1e6:.0f} MP; that" if declared else ""
        raise MediaTooLarge(f"{name}: image{size} is too large to decode safely (a possible decompression bomb)") \
            from None
    except MemoryError:
        raise MediaTooLarge(f"{name}: not enough memory to decode this image") from None
    except PILLOW_ERRORS as exc:
        log.debug("%s: Pillow raised %r", name, exc)
        raise BadInput(f"{name}: image is corrupt or truncated ({_corruption(exc)})") from None


@dataclass(frozen=True)
class _Header:
    format: str
    width: int  # as declared, before any draft scaling
    height: int
    frames: int  # frames in an animation; 1 otherwise
    cost: int  # decode_cost, bytes


# Pillow parses container structure in Python: a loop turn per PNG chunk, per JPEG marker or stray byte before the
# first scan, per GIF block or stray byte, per TIFF strip, per BMP run. A 4 MB JPEG of a million empty segments
# took 5 s, a 12 MB PNG of a million empty chunks 9 s, a 40 MB TIFF of five million strips 68 s. `_structure`
# walks the same structure first (cheaply, and never further than these caps) and refuses what is over them.
MAX_PNG_CHUNKS = 50_000  # libpng writes 8 KiB IDAT chunks: a 50 MB file holds about 6,400
MAX_JPEG_STEPS = 10_000  # markers and stray bytes before the first scan (a photo has a few dozen markers)
MAX_GIF_BLOCKS = 500_000  # extension and data sub-blocks, and stray bytes (255-byte sub-blocks: 200,000 in 50 MB)
MAX_TIFF_ENTRIES = 65_535  # tags in the first directory (a classic TIFF cannot hold more; BigTIFF could)
MAX_TIFF_BLOCKS = 65_536  # strips or tiles: one-row strips of a 20,000-row image in 3 planes fit
MAX_BMP_RLE_BYTES = 2 * 2**20  # run-length-encoded BMP files (icons and old software write them, small)
JPEG_FREE_SCANS = 12  # progressive encoders write up to about 10 scans; see jpeg_scan_cost


class _Structure(NamedTuple):
    size: tuple[int, int] | None = None  # (width, height) the header declares, where it could be read
    frames: int = 1  # GIF: frames found (counting stops once they are over the budget)
    canvas: tuple[int, int] | None = None  # GIF: the canvas every frame's extent grows it to
    scans: int = 1  # JPEG: start-of-scan markers (a 0xFF 0xDA pair never occurs inside entropy-coded data)


def _too_complex(name: str, what: str) -> MediaTooLarge:
    return MediaTooLarge(f"{name}: the file's structure is too long to parse safely ({what})")


def _png_structure(data: bytes, name: str) -> _Structure:
    pos, n, chunks = 8, len(data), 0
    while pos + 8 <= n:
        chunks += 1
        if chunks > MAX_PNG_CHUNKS:
            raise _too_complex(name, f"more than {MAX_PNG_CHUNKS} PNG chunks")
        if data[pos + 4:pos + 8] == b"IEND":
            break
        pos += 12 + int.from_bytes(data[pos:pos + 4], "big")
    size = struct.unpack_from(">II", data, 16) if len(data) >= 24 and data[12:16] == b"IHDR" else None
    return _Structure(size=size)


def _jpeg_structure(data: bytes, name: str) -> _Structure:
    pos, n, steps = 2, len(data), 0
    size: tuple[int, int] | None = None
    while pos + 1 < n:
        steps += 1
        if steps > MAX_JPEG_STEPS:
            raise _too_complex(name, f"more than {MAX_JPEG_STEPS} markers or stray bytes before the image data")
        if data[pos] != 0xFF or data[pos + 1] == 0xFF:  # a stray byte, or a fill byte before a marker
            pos += 1
            continue
        marker = data[pos + 1]
        if marker in (0xDA, 0xD9):  # start of scan, end of image
            break
        if marker in (0x00, 0x01, 0xD8) or 0xD0 <= marker <= 0xD7:  # markers without a length
            pos += 2
            continue
        if size is None and 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC) and pos + 9 <= n:
            height, width = struct.unpack_from(">HH", data, pos + 5)  # start of frame: precision, height, width
            size = (width, height) if height else None  # height 0: given later by a DNL marker
        pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
    return _Structure(size=size, scans=data.count(b"\xff\xda"))


def _gif_structure(data: bytes, limits: MediaLimits, name: str) -> _Structure:
    """Frames and canvas of a GIF, walking its blocks as Pillow does but without decoding: Pillow's own frame count
    parses each frame in Python (14 s for a 46 MB file of two million 1-pixel frames). Counting stops once the
    frames are over the decode budget; the canvas grows to every frame's extent, as Pillow grows it."""
    n = len(data)
    if n < 13:
        return _Structure()
    width, height = struct.unpack_from("<HH", data, 6)
    stop_after = limits.max_decode_bytes // max(width * height * 4, FRAME_COST_FLOOR) + 1
    flags = data[10]
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    frames = blocks = 0

    def skip_sub_blocks(p: int) -> int:
        nonlocal blocks
        while p < n:
            blocks += 1
            size = data[p]
            p += 1 + size
            if size == 0:
                break
        return p

    while pos < n and frames <= stop_after and blocks <= MAX_GIF_BLOCKS:
        blocks += 1
        marker = data[pos]
        pos += 1
        if marker == 0x3B:  # trailer
            break
        if marker == 0x21:  # extension: label, then data sub-blocks
            pos = skip_sub_blocks(pos + 1)
        elif marker == 0x2C:  # image descriptor
            if pos + 9 > n:
                break
            x0, y0, fw, fh, fflags = struct.unpack_from("<HHHHB", data, pos)
            pos += 9 + (3 << ((fflags & 7) + 1) if fflags & 0x80 else 0) + 1  # local palette, LZW code size
            pos = skip_sub_blocks(pos)
            frames += 1
            width, height = max(width, x0 + fw), max(height, y0 + fh)
        # any other byte is skipped, as Pillow skips it
    if blocks > MAX_GIF_BLOCKS:
        raise _too_complex(name, f"more than {MAX_GIF_BLOCKS} GIF blocks")
    return _Structure(size=struct.unpack_from("<HH", data, 6), frames=max(1, frames), canvas=(width, height))


def _tiff_structure(data: bytes, name: str) -> _Structure:
    """The first directory's entry count and strip or tile count (Pillow builds one tile per strip, in Python:
    68 s for a 40 MB file of five million one-row strips)."""
    order = "<" if data[:2] == b"II" else ">"
    big = data[2:4] in (b"+\x00", b"\x00+")  # BigTIFF: 8-byte counts and offsets
    if len(data) < 16:
        return _Structure()  # a header too short to say: Pillow says what is wrong
    ifd = struct.unpack_from(order + ("Q" if big else "I"), data, 8 if big else 4)[0]
    if ifd + 8 > len(data):  # the directory is not in the file (a fuzzed 64-bit offset overflowed unpack_from)
        return _Structure()
    if big:
        entries, head, size, layout = struct.unpack_from(order + "Q", data, ifd)[0], 8, 20, "HHQ"
        value_at = 12  # in an entry: tag, type, count (8 bytes), value
    else:
        entries, head, size, layout = struct.unpack_from(order + "H", data, ifd)[0], 2, 12, "HHI"
        value_at = 8  # tag, type, count (4 bytes), value
    if entries > MAX_TIFF_ENTRIES:
        raise _too_complex(name, f"{entries} TIFF tags in a directory; at most {MAX_TIFF_ENTRIES}")
    blocks = 0
    sides: dict[int, int] = {}
    for i in range(entries):
        at = ifd + head + i * size
        try:
            tag, typ, count = struct.unpack_from(order + layout, data, at)
            if tag in (256, 257) and count == 1 and typ in (3, 4, 16):  # image width, length: SHORT, LONG, LONG8
                sides[tag] = struct.unpack_from(order + {3: "H", 4: "I", 16: "Q"}[typ], data, at + value_at)[0]
        except struct.error:
            break
        if tag in (273, 279, 324, 325):  # strip and tile offsets and byte counts
            blocks = max(blocks, count)
    if blocks > MAX_TIFF_BLOCKS:
        raise _too_complex(name, f"{blocks} TIFF strips or tiles; at most {MAX_TIFF_BLOCKS}")
    return _Structure(size=(sides[256], sides[257]) if len(sides) == 2 else None)


def _bmp_structure(data: bytes, name: str) -> _Structure:
    """Pillow decodes run-length-encoded BMPs in Python, a turn per 2-byte run (16 MB took 5 s): cap their size."""
    if len(data) > MAX_BMP_RLE_BYTES and len(data) >= 34 and int.from_bytes(data[14:18], "little") >= 40:
        if int.from_bytes(data[30:34], "little") in (1, 2):  # BI_RLE8, BI_RLE4
            raise _too_complex(name, f"a run-length-encoded BMP of over {MAX_BMP_RLE_BYTES // 2**20} MiB")
    if len(data) >= 26 and int.from_bytes(data[14:18], "little") >= 40:
        width, height = struct.unpack_from("<ii", data, 18)
        return _Structure(size=(abs(width), abs(height)))  # a negative height: rows stored top down
    return _Structure()


def _webp_structure(data: bytes) -> _Structure:
    """The canvas (VP8X) or frame size (VP8L, VP8) a WebP declares; libwebp parses the rest in C."""
    kind = data[12:16]
    if kind == b"VP8X" and len(data) >= 30:
        return _Structure(size=(int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1))
    if kind == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return _Structure(size=((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
    if kind == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack_from("<HH", data, 26)
        return _Structure(size=(width & 0x3FFF, height & 0x3FFF))
    return _Structure()


def _structure(data: bytes, limits: MediaLimits, name: str) -> _Structure:
    """The container's structure, walked by its magic number before Pillow parses it."""
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return _png_structure(data, name)
    if data[:2] == b"\xff\xd8":
        return _jpeg_structure(data, name)
    if data[:4] == b"GIF8":
        return _gif_structure(data, limits, name)
    if data[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return _tiff_structure(data, name)
    if data[:2] == b"BM":
        return _bmp_structure(data, name)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp_structure(data)
    return _Structure()


def _draft(im: Image.Image, work_side: int) -> None:
    """Ask the JPEG decoder for a 1/2, 1/4 or 1/8 scale still at least `work_side` on the longest side."""
    w, h = im.size
    s = work_side / max(w, h)
    if s < 0.5:
        im.draft(im.mode, (max(1, math.ceil(w * s)), max(1, math.ceil(h * s))))


def _open(data: bytes, limits: MediaLimits, name: str) -> tuple[Image.Image, _Header]:
    """Open `data` and read what decoding it will cost, refusing before any pixel is decoded when over a cap.
    Only the supported formats' parsers ever see the bytes."""
    _pillow_guard(limits)
    shape = _structure(data, limits, name)
    if shape.size is not None:  # over a cap as declared: refused before Pillow parses anything
        _check_size(*shape.size, limits, name)
    with _pillow_errors(name):
        im = Image.open(io.BytesIO(data), formats=PILLOW_OPENERS)
    try:
        with _pillow_errors(name):
            fmt = str(im.format or "?")
            w, h = (int(v) for v in im.size)
        if fmt not in IMAGE_FORMATS:
            raise UnsupportedMedia(f"{name}: {fmt} is not supported; send JPEG, PNG, WebP, GIF, BMP or TIFF")
        _check_size(w, h, limits, name)
        frames, cw, ch, scan_cost = 1, w, h, 0
        if fmt == "GIF":
            frames = shape.frames
            cw, ch = shape.canvas or (w, h)
            if (cw, ch) != (w, h):
                try:
                    _check_size(cw, ch, limits, name)
                except MediaTooLarge as exc:
                    raise MediaTooLarge(f"{exc} (a frame extends the {w}x{h} canvas to that)") from None
        elif fmt == "WEBP":
            with _pillow_errors(name):
                frames = max(1, int(getattr(im, "n_frames", 1) or 1))
        elif fmt in ("JPEG", "MPO"):
            scan_cost = jpeg_scan_cost(w, h, shape.scans)  # every block is entropy-decoded, whatever the draft
            with _pillow_errors(name):
                _draft(im, limits.work_side)
                cw, ch = (int(v) for v in im.size)
        with _pillow_errors(name):
            mode = str(im.mode)
        cost = decode_cost(cw, ch, mode, frames) + scan_cost
        if cost > limits.max_decode_bytes:
            what = f"{cw}x{ch} {mode} image" + (f" of {frames} frames" if frames > 1 else "")
            what += f" in {shape.scans} scans" if scan_cost else ""
            raise MediaTooLarge(
                f"{name}: decoding this {what} would take about {cost / 2**20:.0f} MiB; the limit is "
                f"{limits.max_decode_bytes / 2**20:.0f} MiB"
            )
    except BaseException:
        im.close()
        raise
    return im, _Header(format=fmt, width=w, height=h, frames=frames, cost=cost)


def _orientation(im: Image.Image) -> int:
    """The EXIF orientation (1 when absent or unreadable: a broken EXIF block does not spoil the pixels)."""
    try:
        value = im.getexif().get(0x0112, 1)
    except PILLOW_ERRORS:
        return 1
    return value if isinstance(value, int) else 1


def _shrink(im: Image.Image, work_side: int, orientation: int) -> Image.Image:
    """The current frame, upright, as an RGB (8-bit) or F (16-bit, 32-bit, float) image at most about twice
    `work_side` on its longest side: reduced inside Pillow by box averaging before anything becomes an array."""
    im.load()
    if im.mode == "1":
        im = im.convert("L")
    elif im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif im.mode == "PA":
        im = im.convert("RGBA")
    factor = max(im.size) // work_side
    if factor >= 2:
        if im.mode.startswith("I;16"):  # Image.reduce has no 16-bit path; BOX resampling is the same average
            w, h = im.size
            im = im.resize((-(-w // factor), -(-h // factor)), Image.Resampling.BOX)
        else:
            im = im.reduce(factor)
    if orientation in _ORIENTATION:
        im = im.transpose(_ORIENTATION[orientation])
    if im.mode in ("I", "F") or im.mode.startswith("I;16"):
        return im.convert("F")
    if im.mode in ("RGBA", "LA", "RGBa"):
        rgba = im.convert("RGBA")
        bg = Image.new("RGB", rgba.size, (255, 255, 255))
        bg.paste(rgba, mask=rgba.getchannel("A"))
        return bg
    return im if im.mode == "RGB" else im.convert("RGB")  # L, CMYK, YCbCr, LAB, HSV, RGBX


def _stretch(plane: np.ndarray) -> np.ndarray:
    """A 16-bit, 32-bit or float plane stretched from its finite minimum to maximum onto 0..255, as grey RGB.
    Works in place on one float32 copy (the plane is already at about work size)."""
    a = np.array(plane, dtype=np.float32)  # a writable copy
    finite = np.isfinite(a)
    grey = np.zeros(a.shape, np.uint8)
    if finite.any():
        lo = float(np.min(a, where=finite, initial=np.inf))
        hi = float(np.max(a, where=finite, initial=-np.inf))
        if hi > lo:
            with np.errstate(all="ignore"):
                a -= np.float32(lo)
                a *= np.float32(255.0 / (hi - lo))
            np.nan_to_num(a, copy=False, nan=0.0, posinf=255.0, neginf=0.0)
            np.clip(a, 0, 255, out=a)
            grey = a.astype(np.uint8)
    return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))


def _to_array(im: Image.Image) -> np.ndarray:
    if im.mode == "F":
        return _stretch(np.asarray(im, dtype=np.float32))
    return np.ascontiguousarray(np.asarray(im, dtype=np.uint8))


def _downscale(rgb: np.ndarray, work_side: int) -> np.ndarray:
    import cv2

    h, w = rgb.shape[:2]
    s = work_side / max(h, w)
    if s >= 1.0:
        return rgb
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def _work_size(width: int, height: int, work_side: int, orientation: int) -> tuple[int, int]:
    """(width, height) a frame of this declared size ends at: upright, longest side at most `work_side`."""
    if orientation in (5, 6, 7, 8):  # a quarter turn swaps the sides
        width, height = height, width
    s = work_side / max(width, height)
    if s >= 1.0:
        return width, height
    return max(1, round(width * s)), max(1, round(height * s))


def _resize_to(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Area-average `rgb` to `size` (width, height): the last step after Pillow's coarser reduce or draft."""
    import cv2

    if (rgb.shape[1], rgb.shape[0]) == size:
        return rgb
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def _frame_indices(n: int, k: int) -> list[int]:
    if n <= k:
        return list(range(n))
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)}) if k > 1 else [0]


def decode_image(data: bytes, limits: MediaLimits | None = None, name: str = "upload") -> DecodedMedia:
    """Decode image bytes into RGB frames; raises BadInput / MediaTooLarge / UnsupportedMedia with the reason."""
    limits = limits or MediaLimits()
    name = safe_name(name)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise BadInput(f"{name}: expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) == 0:
        raise BadInput(f"{name}: file is empty (0 bytes)")
    if len(data) > limits.max_bytes:
        raise MediaTooLarge(f"{name}: {len(data)} bytes is over the {limits.max_bytes}-byte limit")
    if _looks_like_video(data):
        return decode_video(data, limits, name)
    im, head = _open(data, limits, name)
    frames: list[PostImage] = []
    try:
        with _pillow_errors(name):
            im.load()
            orientation = _orientation(im)
        indices = _frame_indices(head.frames, limits.max_frames) if head.frames > 1 else [0]
        for i in indices:
            with _pillow_errors(name):
                if head.frames > 1:
                    im.seek(i)
                # the declared size (a JPEG draft has already scaled im.size); a GIF frame may have grown the canvas
                size = (head.width, head.height) if head.format in ("JPEG", "MPO") else im.size
                small = _shrink(im, limits.work_side, orientation)
            rgb = _resize_to(_to_array(small), _work_size(*size, limits.work_side, orientation))
            frames.append(PostImage(name=name, rgb=rgb, frame_index=i if head.frames > 1 else None))
    finally:
        im.close()
    return DecodedMedia(frames=tuple(frames), format=head.format, original_size=(head.width, head.height))


def probe(data: bytes, limits: MediaLimits | None = None, name: str = "upload") -> int:
    """Pixels decoding `data` will cost (width x height x frames sampled), read from the header without decoding.
    Raises MediaTooLarge when the image alone is over the per-image caps (pixels, sides, decode_cost); 0 when the
    header cannot be read (the decoder then says why)."""
    limits = limits or MediaLimits()
    name = safe_name(name)
    if _looks_like_video(data):
        return limits.max_frames * limits.work_side * limits.work_side
    try:
        im, head = _open(bytes(data), limits, name)
    except MediaTooLarge:
        raise
    except BadInput:  # an unreadable or unsupported header is the decoder's to report, with its reason
        return 0
    im.close()
    return head.width * head.height * min(head.frames, limits.max_frames)


def _looks_like_video(data: bytes) -> bool:
    return data[4:8] == b"ftyp" or data[:4] == b"\x1aE\xdf\xa3" or (data[:4] == b"RIFF" and data[8:12] == b"AVI ")


# Video sampling: a frame at least every VIDEO_INTERVAL_S (the spacing doubles until the cap holds them all),
# plus the frames where the scene changes (HSV histogram distance to the previous analysed frame), so a page
# shown for two seconds of a long video is not missed between evenly spaced samples.
VIDEO_INTERVAL_S = 1.0
VIDEO_ANALYSE_S = 0.25  # scene changes are looked for this often
SCENE_CHANGE = 0.35  # histogram distance (0..1) that counts as a new scene
MAX_VIDEO_FRAMES_READ = 60_000  # frames decoded at most (a 33-minute video at 30 fps); the rest is not sampled


@dataclass
class _Candidate:
    index: int
    time_s: float
    rgb: np.ndarray
    strength: float = 0.0  # scene-change distance; 0 for a time sample
    grid: int = 0  # time samples: the multiple of VIDEO_INTERVAL_S this frame stands for


def _scene_signature(bgr: np.ndarray) -> np.ndarray:
    """A normalised 16x4x4 HSV histogram of a small copy of the frame."""
    import cv2

    h, w = bgr.shape[:2]
    s = 160 / max(h, w)
    small = bgr if s >= 1 else cv2.resize(bgr, (max(1, round(w * s)), max(1, round(h * s))),
                                          interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, [16, 4, 4], [0, 180, 0, 256, 0, 256]).ravel()
    return hist / max(float(hist.sum()), 1.0)


def _select_frames(grid: list[_Candidate], scenes: list[_Candidate], cap: int) -> list[_Candidate]:
    """The first frame, then the strongest scene changes, then the time samples farthest from what is chosen."""
    chosen: dict[int, _Candidate] = {}
    if grid:
        chosen[grid[0].index] = grid[0]
    for c in sorted(scenes, key=lambda c: (-c.strength, c.index)):
        if len(chosen) >= cap:
            break
        chosen.setdefault(c.index, c)
    rest = [c for c in grid if c.index not in chosen]
    while rest and len(chosen) < cap:
        far = max(rest, key=lambda c: (min(abs(c.time_s - k.time_s) for k in chosen.values()), -c.index))
        chosen[far.index] = far
        rest.remove(far)
    return sorted(chosen.values(), key=lambda c: c.index)


def decode_video(
    data: bytes,
    limits: MediaLimits | None = None,
    name: str = "upload",
    *,
    interval_s: float = VIDEO_INTERVAL_S,
    scene_change: float = SCENE_CHANGE,
) -> DecodedMedia:
    """Sample at most `limits.max_frames` frames from a video with OpenCV, by time and by scene change.

    One pass, bounded memory: time samples are kept on a grid of `interval_s` whose spacing doubles whenever it
    would hold more than the cap; scene changes (the strongest `max_frames`) are kept beside them; then the
    first frame, the scene changes and the time samples farthest from those are chosen. Each frame carries its
    index and its time in seconds (`PostImage.time_s`).
    """
    import cv2

    limits = limits or MediaLimits()
    cap_frames = limits.max_frames
    fd, path = tempfile.mkstemp(suffix=".video")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        cap = cv2.VideoCapture(path)
        try:
            if not cap.isOpened():
                raise UnsupportedMedia(f"{name}: video could not be opened (unsupported codec or corrupt)")
            w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
            _check_size(w, h, limits, name)
            fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
            fps = fps if np.isfinite(fps) and 0.0 < fps <= 1000.0 else 0.0
            analyse_every = max(1, round(fps * VIDEO_ANALYSE_S)) if fps else 1
            grid: list[_Candidate] = []
            scenes: list[_Candidate] = []
            spacing = 1  # in multiples of interval_s
            next_grid = 0
            prev: np.ndarray | None = None
            index = 0
            while index < MAX_VIDEO_FRAMES_READ:
                t = index / fps if fps else max(0.0, float(cap.get(cv2.CAP_PROP_POS_MSEC) or 0.0) / 1000.0)
                g = int(t / interval_s + 1e-6)
                on_grid = g >= next_grid
                if index % analyse_every and not on_grid:
                    if not cap.grab():
                        break
                    index += 1
                    continue
                ok, bgr = cap.read()
                if not ok or bgr is None:
                    break
                sig = _scene_signature(bgr)
                strength = 0.5 * float(np.abs(sig - prev).sum()) if prev is not None else 0.0
                prev = sig
                is_scene = strength >= scene_change
                if on_grid or is_scene:
                    rgb = _downscale(np.ascontiguousarray(bgr[:, :, ::-1]), limits.work_side)
                    if on_grid:
                        slot = g - g % spacing
                        grid.append(_Candidate(index, t, rgb, grid=slot))
                        next_grid = slot + spacing
                        if len(grid) > cap_frames:  # thin the time samples: double the spacing
                            spacing *= 2
                            grid = [c for c in grid if c.grid % spacing == 0]
                            next_grid = (slot // spacing + 1) * spacing
                    if is_scene:
                        scenes.append(_Candidate(index, t, rgb, strength=strength))
                        if len(scenes) > cap_frames:
                            scenes.remove(min(scenes, key=lambda c: (c.strength, -c.index)))
                index += 1
        finally:
            cap.release()
        picked = _select_frames(grid, scenes, cap_frames)
        if not picked:
            raise BadInput(f"{name}: no frame of the video could be decoded")
        frames = tuple(
            PostImage(name=name, rgb=c.rgb, frame_index=c.index, time_s=round(c.time_s, 3)) for c in picked
        )
        return DecodedMedia(frames=frames, format="VIDEO", original_size=(w, h))
    finally:
        os.unlink(path)


def read_file(path: str | os.PathLike[str], limits: MediaLimits | None = None) -> DecodedMedia:
    """Decode a file from disk, checking its size before reading it."""
    limits = limits or MediaLimits()
    p = os.fspath(path)
    name = safe_name(os.path.basename(p))
    try:
        st = os.stat(p)
        if not stat.S_ISREG(st.st_mode):  # a folder, a FIFO (would block) or a device (/dev/zero never ends)
            raise BadInput(f"{name}: not a regular file")
        if st.st_size > limits.max_bytes:
            raise MediaTooLarge(f"{name}: {st.st_size} bytes is over the {limits.max_bytes}-byte limit")
        with open(p, "rb") as fh:
            data = fh.read(limits.max_bytes + 1)  # the file may have grown since stat
    except OSError as exc:
        raise BadInput(f"{name}: cannot read file ({exc.strerror or type(exc).__name__})") from None
    if len(data) > limits.max_bytes:
        raise MediaTooLarge(f"{name}: over the {limits.max_bytes}-byte limit")
    return decode_image(data, limits, name)
