"""Safe decoding of uploaded media from bytes into RGB arrays.

Everything a client sends passes through here before any detector sees it. Caps on bytes, pixels and sides are
checked from the header before pixel data is decoded, so a decompression bomb costs nothing. The result is
always HxWx3 uint8 RGB with EXIF orientation applied: palette, alpha (composited on white), CMYK, 16-bit and
float images are converted. Animated GIF/WebP and videos yield evenly spaced frames.
"""

from __future__ import annotations

import io
import os
import struct
import tempfile
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from detectors.errors import BadInput, MediaTooLarge, UnsupportedMedia
from detectors.evidence import PostImage
from service.settings import MediaLimits

IMAGE_FORMATS = {"JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "MPO"}
VIDEO_SIGNATURES = (b"ftyp", b"\x1aE\xdf\xa3", b"RIFF")  # MP4/MOV (at offset 4), Matroska/WebM, AVI

# Pillow's own bomb check stays on as a second line of defence, set above our cap so ours fires first.
Image.MAX_IMAGE_PIXELS = None


@dataclass(frozen=True)
class DecodedMedia:
    frames: tuple[PostImage, ...]
    format: str
    original_size: tuple[int, int]  # (width, height) before any downscale


def _check_size(w: int, h: int, limits: MediaLimits, name: str) -> None:
    if w < 1 or h < 1:
        raise BadInput(f"{name}: image has no pixels ({w}x{h})")
    if max(w, h) > limits.max_side or w * h > limits.max_pixels:
        raise MediaTooLarge(
            f"{name}: image is {w}x{h} ({w * h / 1e6:.0f} MP); the limit is {limits.max_pixels / 1e6:.0f} MP "
            f"and {limits.max_side} px per side"
        )


def _to_rgb(im: Image.Image) -> np.ndarray:
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        a = np.asarray(im, dtype=np.float64)
        lo, hi = float(np.nanmin(a)), float(np.nanmax(a))
        a = np.zeros_like(a) if hi <= lo else (a - lo) * (255.0 / (hi - lo))
        g = np.nan_to_num(a).clip(0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(g[:, :, None], 3, axis=2))
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif mode in ("LA", "La", "PA"):
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "RGBa"):
        bg = Image.new("RGB", im.size, (255, 255, 255))
        bg.paste(im, mask=im.getchannel("A"))
        im = bg
    elif im.mode != "RGB":
        im = im.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV, RGBX
    return np.ascontiguousarray(np.asarray(im, dtype=np.uint8))


def _downscale(rgb: np.ndarray, work_side: int) -> np.ndarray:
    import cv2

    h, w = rgb.shape[:2]
    s = work_side / max(h, w)
    if s >= 1.0:
        return rgb
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def _frame_indices(n: int, k: int) -> list[int]:
    if n <= k:
        return list(range(n))
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)}) if k > 1 else [0]


def decode_image(data: bytes, limits: MediaLimits | None = None, name: str = "upload") -> DecodedMedia:
    """Decode image bytes into RGB frames; raises BadInput / MediaTooLarge / UnsupportedMedia with the reason."""
    limits = limits or MediaLimits()
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise BadInput(f"{name}: expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) == 0:
        raise BadInput(f"{name}: file is empty (0 bytes)")
    if len(data) > limits.max_bytes:
        raise MediaTooLarge(f"{name}: {len(data)} bytes is over the {limits.max_bytes}-byte limit")
    if _looks_like_video(data):
        return decode_video(data, limits, name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            fmt = im.format or "?"
            if fmt not in IMAGE_FORMATS:
                raise UnsupportedMedia(f"{name}: {fmt} is not supported; send JPEG, PNG, WebP, GIF, BMP or TIFF")
            w, h = im.size
            _check_size(w, h, limits, name)
            n_frames = int(getattr(im, "n_frames", 1) or 1)
            frames = []
            indices = _frame_indices(n_frames, limits.max_frames) if fmt in ("GIF", "WEBP") else [0]
            for i in indices:
                if n_frames > 1:
                    im.seek(i)
                frame = ImageOps.exif_transpose(im) if i == 0 else im
                rgb = _downscale(_to_rgb(frame), limits.work_side)
                frames.append(PostImage(name=name, rgb=rgb, frame_index=i if n_frames > 1 else None))
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        if isinstance(exc, UnidentifiedImageError):
            raise UnsupportedMedia(f"{name}: not a recognised image (corrupt or wrong type)") from None
        raise MediaTooLarge(f"{name}: image is too large to decode safely") from None
    except (OSError, SyntaxError, ValueError, EOFError, TypeError, IndexError, struct.error) as exc:
        # Pillow's plugins raise these on malformed headers and tags (TypeError/IndexError from fuzzed TIFFs)
        raise BadInput(f"{name}: image is corrupt or truncated ({type(exc).__name__}: {exc})") from None
    return DecodedMedia(frames=tuple(frames), format=fmt, original_size=(w, h))


def probe(data: bytes, limits: MediaLimits | None = None, name: str = "upload") -> int:
    """Pixels decoding `data` will cost (width x height x frames sampled), read from the header without decoding.
    Raises MediaTooLarge when the image alone is over the per-image caps; 0 when the header cannot be read (the
    decoder then says why)."""
    limits = limits or MediaLimits()
    if _looks_like_video(data):
        return limits.max_frames * limits.work_side * limits.work_side
    try:
        with Image.open(io.BytesIO(data)) as im:
            w, h = (int(v) for v in im.size)
            frames = min(int(getattr(im, "n_frames", 1) or 1), limits.max_frames)
    except Exception:  # an unreadable header is the decoder's to report, with its reason
        return 0
    _check_size(w, h, limits, name)
    return w * h * max(1, frames)


def _looks_like_video(data: bytes) -> bool:
    return data[4:8] == b"ftyp" or data[:4] == b"\x1aE\xdf\xa3" or (data[:4] == b"RIFF" and data[8:12] == b"AVI ")


def decode_video(data: bytes, limits: MediaLimits | None = None, name: str = "upload") -> DecodedMedia:
    """Sample up to `limits.max_frames` evenly spaced frames from a video with OpenCV."""
    import cv2

    limits = limits or MediaLimits()
    fd, path = tempfile.mkstemp(suffix=".video")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        cap = cv2.VideoCapture(path)
        if not cap.isOpened():
            raise UnsupportedMedia(f"{name}: video could not be opened (unsupported codec or corrupt)")
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        _check_size(w, h, limits, name)
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or 1
        frames = []
        for i in _frame_indices(n, limits.max_frames):
            cap.set(cv2.CAP_PROP_POS_FRAMES, i)
            ok, bgr = cap.read()
            if ok and bgr is not None:
                rgb = _downscale(np.ascontiguousarray(bgr[:, :, ::-1]), limits.work_side)
                frames.append(PostImage(name=name, rgb=rgb, frame_index=i))
        cap.release()
        if not frames:
            raise BadInput(f"{name}: no frame of the video could be decoded")
        return DecodedMedia(frames=tuple(frames), format="VIDEO", original_size=(w, h))
    finally:
        os.unlink(path)


def read_file(path: str | os.PathLike[str], limits: MediaLimits | None = None) -> DecodedMedia:
    """Decode a file from disk, checking its size before reading it."""
    limits = limits or MediaLimits()
    p = os.fspath(path)
    name = os.path.basename(p)
    try:
        size = os.path.getsize(p)
    except OSError as exc:
        raise BadInput(f"{name}: cannot read file ({exc.strerror})") from None
    if size > limits.max_bytes:
        raise MediaTooLarge(f"{name}: {size} bytes is over the {limits.max_bytes}-byte limit")
    with open(p, "rb") as fh:
        return decode_image(fh.read(), limits, name)
