"""Hostile input, through `service.media.decode_image` and through HTTP: each case ends in a correct result or in
one of the project's errors (400/413/415 with {"error", "detail"}), never a 500 or a traceback, and decoding is
refused from the header when it would cost too much. Every case is generated here; there are no binary files.
"""

from __future__ import annotations

import io
import re
import struct
import time
import tracemalloc
import unicodedata
import zipfile
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageFile

import tests.fakes  # noqa: F401  (registers the fake detectors)
from detectors.errors import AssetScreenError, BadInput, MediaTooLarge, UnsupportedMedia
from service.api import create_app
from service.media import (
    FRAME_COST_FLOOR,
    decode_cost,
    decode_image,
    probe,
    read_file,
    safe_name,
)
from service.screener import Screener
from service.settings import MediaLimits, Settings
from service.store import MemoryStore
from tests.fakes import EchoRecognizer
from tests.imagegen import encode, gradient, png_header_only

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow warns on corrupt EXIF; outcomes count

LIMITS = MediaLimits()
FORMATS = ["JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF"]

# ------------------------------------------------------------------------------------------------ builders


def _lzw_constant(n: int) -> bytes:
    """GIF LZW data (minimum code size 2) for n pixels of colour index 0, as sub-blocks: clear, 0, 0 repeated keeps
    every code 3 bits wide, so no real encoder is needed."""
    codes: list[int] = []
    for i in range(0, n, 2):
        codes += [4, 0, 0] if i + 1 < n else [4, 0]
    codes.append(5)
    bits = 0
    nbits = 0
    out = bytearray()
    for c in codes:
        bits |= c << nbits
        nbits += 3
        while nbits >= 8:
            out.append(bits & 0xFF)
            bits >>= 8
            nbits -= 8
    if nbits:
        out.append(bits & 0xFF)
    blocks = b"".join(bytes([len(out[i:i + 255])]) + bytes(out[i:i + 255]) for i in range(0, len(out), 255))
    return b"\x02" + blocks + b"\x00"


def gif(canvas: tuple[int, int], frames: list[tuple[tuple[int, int, int, int], tuple[int, int, int]]]) -> bytes:
    """A GIF of constant-colour frames ((x, y, w, h), rgb), each with its own 2-entry palette. A frame of more
    than 4096 pixels gets data for 4096 only: enough for the header-level cases it is used in."""
    out = bytearray(b"GIF89a" + struct.pack("<HHBBB", *canvas, 0, 0, 0))
    out += b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    for (x, y, w, h), colour in frames:
        out += b"\x21\xf9\x04\x00\x01\x00\x00\x00"
        out += b"\x2c" + struct.pack("<HHHHB", x, y, w, h, 0x80) + bytes(colour) + b"\x00\x00\x00"
        out += _lzw_constant(min(w * h, 4096))
    return bytes(out + b";")


def frame_colour(i: int) -> tuple[int, int, int]:
    return (i % 256, (i // 256) * 12 % 256, 77)


def tiff(overrides: dict[int, tuple[int, Any]] | None = None) -> bytes:
    """A 4x4 8-bit grey uncompressed TIFF written tag by tag, so a test can give any tag any type and value.
    overrides: tag -> (TIFF type, list of values, or raw bytes); a value of None drops the tag."""
    sizes = {1: "B", 2: "B", 3: "H", 4: "I", 5: "II", 7: "B", 12: "d", 16: "Q"}
    tags: dict[int, tuple[int, Any]] = {256: (3, [4]), 257: (3, [4]), 258: (3, [8]), 259: (3, [1]), 262: (3, [1]),
                                       273: (4, ["pixels"]), 277: (3, [1]), 278: (3, [4]), 279: (4, [16])}
    tags.update(overrides or {})
    entries = sorted((t, v) for t, v in tags.items() if v[1] is not None)
    extra_at = 8 + 2 + 12 * len(entries) + 4

    def raw(typ: int, value: Any, pixels_at: int) -> tuple[bytes, int]:
        if isinstance(value, bytes):
            return value, len(value) // struct.calcsize("<" + sizes[typ])
        vals = [pixels_at if v == "pixels" else v for v in value]
        return b"".join(struct.pack("<" + sizes[typ], *(v if isinstance(v, tuple) else (v,))) for v in vals), len(vals)

    extra_len = sum(len(raw(typ, v, 0)[0]) for _, (typ, v) in entries if len(raw(typ, v, 0)[0]) > 4)
    pixels_at = extra_at + extra_len
    body, extra = bytearray(struct.pack("<H", len(entries))), bytearray()
    for tag, (typ, value) in entries:
        data, count = raw(typ, value, pixels_at)
        if len(data) <= 4:
            body += struct.pack("<HHI", tag, typ, count) + data.ljust(4, b"\x00")
        else:
            body += struct.pack("<HHII", tag, typ, count, extra_at + len(extra))
            extra += data
    return b"II*\x00" + struct.pack("<I", 8) + bytes(body) + b"\x00" * 4 + bytes(extra) + bytes(range(0, 256, 16))


def jpeg_declaring(width: int, height: int) -> bytes:
    """A small JPEG whose SOF0 header is rewritten to declare width x height."""
    data = bytearray(encode(Image.fromarray(gradient(16, 16)), "JPEG"))
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def webp_declaring(width: int, height: int) -> bytes:
    """A lossless WebP behind a VP8X chunk that declares a width x height canvas."""
    inner = encode(Image.new("RGB", (4, 4), (1, 2, 3)), "WEBP", lossless=True)[12:]
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00" + (width - 1).to_bytes(3, "little") + \
        (height - 1).to_bytes(3, "little")
    body = b"WEBP" + vp8x + inner
    return b"RIFF" + struct.pack("<I", len(body)) + body


def png_zip_bomb(side: int) -> bytes:
    """A real PNG of side x side black pixels: a few kilobytes that inflate to side*side bytes."""
    return encode(Image.new("L", (side, side), 0), "PNG", optimize=False)


def png_with_chunks(n: int) -> bytes:
    """A valid PNG with n empty private chunks before its image data."""
    data = sample("PNG")
    empty = struct.pack(">I", 0) + b"zzZz" + struct.pack(">I", zlib.crc32(b"zzZz"))
    return data[:33] + empty * n + data[33:]


def progressive_with_repeated_scans(repeats: int) -> bytes:
    """A 2000x1500 progressive JPEG with its smallest scan repeated: libjpeg warns and decodes every repeat, a pass
    over every block each."""
    data = encode(Image.new("RGB", (2000, 1500), (90, 120, 30)), "JPEG", progressive=True)
    sos = [m.start() for m in re.finditer(b"\xff\xda", data)]
    scan = min((data[a:b] for a, b in zip(sos, sos[1:], strict=False)), key=len)
    return data[:-2] + scan * repeats + data[-2:]


def bmp_rle8(width: int, height: int) -> bytes:
    """An 8-bit run-length-encoded BMP, one 2-byte run per pixel (Pillow decodes these in Python)."""
    body = (b"\x01\x80" * width + b"\x00\x00") * height + b"\x00\x01"
    palette = b"".join(bytes([i, i, i, 0]) for i in range(256))
    offset = 14 + 40 + len(palette)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 1, len(body), 2835, 2835, 256, 0)
    return b"BM" + struct.pack("<IHHI", offset + len(body), 0, 0, offset) + info + palette + body


def corrupt(data: bytes, at: float, width: int = 16, seed: int = 0) -> bytes:
    buf = bytearray(data)
    pos = min(len(buf) - 1, max(0, int(len(buf) * at)))
    buf[pos:pos + width] = np.random.default_rng(seed).integers(0, 256, width, dtype=np.uint8).tobytes()
    return bytes(buf[: len(data)])


IMAGE = Image.fromarray(gradient(96, 64))


def sample(fmt: str) -> bytes:
    return encode(IMAGE, fmt, **({"lossless": True} if fmt == "WEBP" else {}))


MP4_HEAD = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41"

# ------------------------------------------------------------------------------------------------ the cases

OK, E400, E413, E415 = "ok", 400, 413, 415
ERRORS = {E400, E413, E415}
ANY = {OK, *ERRORS}


def _cases() -> list[tuple[str, Callable[[], bytes], set[Any]]]:
    cases: list[tuple[str, Callable[[], bytes], set[Any]]] = []
    for fmt in FORMATS:
        f = fmt.lower()
        cases += [
            (f"{f}-header-only", lambda fmt=fmt: sample(fmt)[:24], ERRORS),
            (f"{f}-truncated-half", lambda fmt=fmt: sample(fmt)[: len(sample(fmt)) // 2], ERRORS),
            (f"{f}-truncated-tail", lambda fmt=fmt: sample(fmt)[:-6], ANY),
            (f"{f}-corrupt-header", lambda fmt=fmt: corrupt(sample(fmt), 0.02, 12), ANY),
            (f"{f}-corrupt-body", lambda fmt=fmt: corrupt(sample(fmt), 0.6, 64), ANY),
            (f"{f}-1px", lambda fmt=fmt: encode(Image.new("RGB", (1, 1), (200, 10, 10)), fmt,
                                                 **({"lossless": True} if fmt == "WEBP" else {})), {OK}),
        ]
    cases += [
        ("zero-bytes", lambda: b"", {E400}),
        ("png-bomb-header-400mp", lambda: png_header_only(20000, 20000), {E413}),
        ("png-bomb-header-90mp", lambda: png_header_only(10000, 9000), {E413}),
        ("png-bomb-65535-square", lambda: png_header_only(65535, 65535), {E413}),
        ("jpeg-declares-65000-square", lambda: jpeg_declaring(65000, 65000), {E413}),
        ("jpeg-declares-zero-height", lambda: jpeg_declaring(100, 0), {E400, E415}),
        ("webp-declares-16k-canvas", lambda: webp_declaring(16384, 16384), {E400, E413, E415}),
        ("tiff-declares-100000-wide", lambda: tiff({256: (4, [100_000])}), {E413}),
        ("gif-frame-grows-canvas-30000", lambda: gif((10, 10), [((0, 0, 10, 10), (1, 2, 3)),
                                                                ((0, 0, 30000, 30000), (4, 5, 6))]), {E413}),
        ("gif-frame-grows-canvas-12000", lambda: gif((10, 10), [((0, 0, 10, 10), (1, 2, 3)),
                                                                ((11990, 11990, 10, 10), (4, 5, 6))]), {E413}),
        ("gif-200k-tiny-frames", lambda: gif((1, 1), [((0, 0, 1, 1), (9, 9, 9))] * 200_000), {E413}),
        ("gif-2000-frames-on-4mp-canvas", lambda: gif((2000, 2000), [((0, 0, 1, 1), (9, 9, 9))] * 2000), {E413}),
        ("panorama-30000x100", lambda: encode(Image.new("RGB", (30000, 100), (5, 6, 7)), "PNG"), {E413}),
        ("panorama-19000x100", lambda: encode(Image.new("RGB", (19000, 100), (5, 6, 7)), "PNG"), {OK}),
        ("cmyk-jpeg", lambda: encode(IMAGE.convert("CMYK"), "JPEG", quality=95), {OK}),
        ("png-16bit", lambda: encode(Image.fromarray((np.arange(96 * 64).reshape(64, 96) * 10).astype(np.uint16)),
                                     "PNG"), {OK}),
        ("tiff-16bit", lambda: encode(Image.fromarray((np.arange(96 * 64).reshape(64, 96) * 10).astype(np.uint16)),
                                      "TIFF"), {OK}),
        ("tiff-float", lambda: encode(Image.fromarray(np.linspace(-1, 1, 96 * 64, dtype=np.float32).reshape(64, 96)),
                                      "TIFF"), {OK}),
        ("tiff-float-nan-inf", lambda: encode(Image.fromarray(np.array([[np.nan, np.inf], [-np.inf, 1.0]],
                                                                       np.float32)), "TIFF"), {OK}),
        ("palette-png-transparency", lambda: encode(IMAGE.convert("P"), "PNG", transparency=0), {OK}),
        ("gif-5000-frames", lambda: gif((16, 16), [((0, 0, 16, 16), frame_colour(i)) for i in range(5000)]), {OK}),
        ("tiff-strip-offset-long8-overflow", lambda: tiff({273: (16, [0xFFFFFFFFFFFFFFF0])}), {E400}),
        ("tiff-strip-offset-ascii-typeerror", lambda: tiff({273: (2, b"12\x00\x00")}), {E400}),
        ("tiff-strip-offset-double-typeerror", lambda: tiff({273: (12, [1e300])}), {E400}),
        ("tiff-xmp-short-typeerror", lambda: tiff({700: (3, [1, 2, 3])}), {E400}),
        ("tiff-rows-per-strip-zero", lambda: tiff({278: (3, [0])}), {E400}),
        ("tiff-samples-per-pixel-65535", lambda: tiff({277: (3, [65535])}), {E400, E415}),
        ("video-mp4-broken-stream", lambda: MP4_HEAD + np.random.default_rng(1).bytes(4000), {E400, E415}),
        ("video-mp4-header-only", lambda: MP4_HEAD, {E400, E415}),
        ("video-webm-magic-garbage", lambda: b"\x1aE\xdf\xa3" + b"\x00" * 500, {E400, E415}),
        ("video-avi-riff-garbage", lambda: b"RIFF\x00\x10\x00\x00AVI LIST" + b"\xff" * 500, {E400, E415}),
        ("heic-signature", lambda: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 200,
         {E400, E415}),
        ("jpeg-1m-empty-segments", lambda: sample("JPEG")[:2] + b"\xff\xe5\x00\x02" * 1_000_000 + sample("JPEG")[2:],
         {E413}),
        ("jpeg-10mb-stray-bytes", lambda: sample("JPEG")[:2] + b"\x00" * 10_000_000 + sample("JPEG")[2:], {E413}),
        ("jpeg-2000-repeated-scans", lambda: progressive_with_repeated_scans(2000), {E413}),
        ("jpeg-20-scans", lambda: progressive_with_repeated_scans(10), {OK}),
        ("png-60k-empty-chunks", lambda: png_with_chunks(60_000), {E413}),
        ("png-1000-empty-chunks", lambda: png_with_chunks(1000), {OK}),
        ("gif-600k-empty-extensions", lambda: sample("GIF")[:19] + b"\x21\xfe\x00" * 600_000 + sample("GIF")[19:],
         {E413}),
        ("tiff-100k-strips", lambda: tiff({273: (4, ["pixels"] * 100_000), 279: (4, [1] * 100_000), 278: (3, [1])}),
         {E413}),
        ("bigtiff-10m-tags", lambda: b"II+\x00" + struct.pack("<HHQQ", 8, 0, 16, 10_000_000) + b"\x00" * 64, {E413}),
        ("bigtiff-ifd-offset-2-64", lambda: b"II+\x00" + struct.pack("<HHQ", 8, 0, 2**64 - 1) + b"\x00" * 64,
         ERRORS),  # found by `fuzz decode`: an OverflowError in our own TIFF walker
        ("bmp-rle8-3mb", lambda: bmp_rle8(1500, 1000), {E413}),
        ("bmp-rle8-small", lambda: bmp_rle8(50, 40), {OK}),
        ("polyglot-png-zip", lambda: sample("PNG") + _zip(), {OK}),
        ("polyglot-jpeg-html-comment", lambda: _jpeg_with_comment(b"<html><script>alert(1)</script></html>"), {OK}),
        ("polyglot-gif-jar", lambda: sample("GIF") + _zip(), {OK}),
        ("html-with-jpeg-magic", lambda: b"\xff\xd8\xff\xe0<html><body>hi</body></html>", ERRORS),
        ("html-page", lambda: b"<!DOCTYPE html><html><img src=x onerror=alert(1)></html>", {E415}),
        ("svg", lambda: b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', {E415}),
        ("pdf", lambda: b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF", {E415}),
        ("pdf-embedding-a-jpeg", lambda: b"%PDF-1.4\n" + sample("JPEG") + b"\n%%EOF", {E415}),
        ("text", lambda: "just words, ‎ a caption as a file".encode(), {E415}),
        ("zip", _zip, {E415}),
        ("ico-unsupported-format", lambda: encode(Image.new("RGB", (16, 16)), "ICO"), {E415}),
    ]
    return cases


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("evil/../../x.txt", "payload")
    return buf.getvalue()


def _jpeg_with_comment(comment: bytes) -> bytes:
    data = sample("JPEG")
    seg = b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment
    return data[:2] + seg + data[2:]


CASES = _cases()
CASE_IDS = [c[0] for c in CASES]


def outcome(fn: Callable[[], Any]) -> tuple[Any, Any]:
    """("ok", result) or (http status, the project's exception); anything else propagates and fails the test."""
    try:
        return OK, fn()
    except AssetScreenError as exc:
        return exc.http_status, exc


# ------------------------------------------------------------------------------------------------ decode_image


@pytest.mark.parametrize(("case", "make", "allowed"), CASES, ids=CASE_IDS)
def test_decode_image_gives_a_result_or_our_error(case: str, make: Callable[[], bytes], allowed: set[Any]) -> None:
    data = make()
    t0 = time.perf_counter()
    got, value = outcome(lambda: decode_image(data, LIMITS, name=f"{case}.bin"))
    assert time.perf_counter() - t0 < 10
    assert got in allowed, f"{case}: {got} {value}"
    if got == OK:
        assert value.frames
        for frame in value.frames:
            assert frame.rgb.dtype == np.uint8 and frame.rgb.ndim == 3 and frame.rgb.shape[2] == 3
            assert max(frame.rgb.shape[:2]) <= LIMITS.work_side
    else:
        message = str(value)
        assert message.startswith(f"{case}.bin: ") and "Traceback" not in message
        assert "\\x" not in message and "b'" not in message, f"the message quotes the file: {message}"


@pytest.mark.parametrize("fmt", FORMATS)
def test_truncated_file_that_decodes_decodes_correctly(fmt: str) -> None:
    """A file cut short gives an error, or (a missing trailer) the same pixels as the whole file."""
    whole = decode_image(sample(fmt)).frames[0].rgb.astype(int)
    for cut in (1, 6, 64, len(sample(fmt)) // 3):
        got, value = outcome(lambda cut=cut: decode_image(sample(fmt)[:-cut]))
        if got == OK:
            assert np.abs(value.frames[0].rgb.astype(int) - whole).mean() < 1.0, (fmt, cut)


@pytest.mark.parametrize("fmt", FORMATS)
def test_one_pixel_images(fmt: str) -> None:
    data = encode(Image.new("RGB", (1, 1), (200, 10, 10)), fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    (frame,) = decode_image(data).frames
    assert frame.rgb.shape == (1, 1, 3)
    assert np.abs(frame.rgb[0, 0].astype(int) - (200, 10, 10)).max() <= (40 if fmt == "JPEG" else 0)


def test_panorama_under_the_cap_keeps_its_aspect() -> None:
    media = decode_image(encode(Image.new("RGB", (19000, 100), (5, 6, 7)), "PNG"))
    assert media.frames[0].rgb.shape == (10, 1920, 3) and media.original_size == (19000, 100)
    assert (media.frames[0].rgb == (5, 6, 7)).all()


def test_panorama_over_the_side_cap_is_413() -> None:
    with pytest.raises(MediaTooLarge, match="30000x100"):
        decode_image(encode(Image.new("RGB", (30000, 100)), "PNG"))


def test_cmyk_jpeg_colours_are_right() -> None:
    rgb = decode_image(encode(IMAGE.convert("CMYK"), "JPEG", quality=95)).frames[0].rgb
    assert np.abs(rgb.astype(int) - np.asarray(IMAGE).astype(int)).mean() < 6


def test_palette_transparency_is_white_and_the_rest_keeps_its_colours() -> None:
    im = Image.new("P", (8, 8), 1)
    im.putpalette([0, 0, 0, 200, 30, 40] + [0] * 762)
    im.paste(0, (0, 0, 4, 8))  # left half: index 0, transparent
    rgb = decode_image(encode(im, "PNG", transparency=0)).frames[0].rgb
    assert (rgb[:, :4] == 255).all() and (rgb[:, 4:] == (200, 30, 40)).all()


def test_sixteen_bit_and_float_keep_their_contrast_and_order() -> None:
    ramp = np.linspace(0, 1, 96 * 64).reshape(64, 96)
    for im in (Image.fromarray((ramp * 65535).astype(np.uint16)), Image.fromarray((ramp * 9e3 - 7).astype(np.float32))):
        for fmt in ("PNG", "TIFF") if im.mode != "F" else ("TIFF",):
            grey = decode_image(encode(im, fmt)).frames[0].rgb[:, :, 0].astype(int)
            assert grey.min() <= 1 and grey.max() >= 254
            assert (np.diff(grey.ravel()) >= 0).all()  # the ramp stays a ramp


def test_float_nan_and_inf_do_not_spoil_the_image() -> None:
    a = np.array([[np.nan, np.inf], [-np.inf, 0.0], [1.0, 2.0]], np.float32)
    grey = decode_image(encode(Image.fromarray(a), "TIFF")).frames[0].rgb[:, :, 0]
    assert grey.tolist() == [[0, 255], [0, 0], [127, 255]]


def _large_plane(mode: str, width: int = 4000, height: int = 3000) -> bytes:
    rng = np.random.default_rng(0)
    blocks = np.kron(rng.random((height // 100, width // 100)), np.ones((100, 100)))
    a = (blocks * 65535).astype(np.uint16) if mode == "I;16" else (blocks * 1000 - 200).astype(np.float32)
    return encode(Image.fromarray(a), "TIFF", compression="tiff_adobe_deflate")


@pytest.mark.parametrize("mode", ["I;16", "F"])
def test_large_sixteen_bit_and_float_images_are_reduced_before_they_become_arrays(mode: str) -> None:
    """12 MP: the old path made a float64 copy (96 MB) and several temporaries; now arrays stay at work size."""
    data = _large_plane(mode)
    tracemalloc.start()
    try:
        t0 = time.perf_counter()
        media = decode_image(data)
        took = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rgb = media.frames[0].rgb
    assert rgb.shape == (1440, 1920, 3)
    assert peak < 64 * 2**20, f"{peak / 2**20:.0f} MiB of Python/numpy memory"  # old path: 275 MiB
    assert took < 5
    # the same picture: 100x100 blocks, stretched min..max; compare block centres with the source blocks
    rng = np.random.default_rng(0)
    src = rng.random((30, 40))
    want = (src - src.min()) / (src.max() - src.min()) * 255
    got = rgb[24::48, 24::48, 0].astype(float)
    assert got.shape == want.shape and np.abs(got - want).max() < 3


def test_exif_orientation_after_reduce_and_draft() -> None:
    a = np.zeros((2000, 4200, 3), np.uint8)
    a[:, :2100] = (250, 0, 0)  # left half red, right half black
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated 90 degrees clockwise: red on top
    for fmt in ("JPEG", "PNG"):
        rgb = decode_image(encode(Image.fromarray(a), fmt, exif=exif)).frames[0].rgb
        assert rgb.shape == (1920, 914, 3), fmt
        assert rgb[:900, :, 0].mean() > 200 and rgb[1020:, :, 0].mean() < 30, fmt


def test_five_thousand_frame_gif_is_sampled_correctly_in_bounded_time() -> None:
    data = gif((16, 16), [((0, 0, 16, 16), frame_colour(i)) for i in range(5000)])
    t0 = time.perf_counter()
    media = decode_image(data, MediaLimits(max_frames=8))
    assert time.perf_counter() - t0 < 5
    indices = [f.frame_index for f in media.frames]
    assert len(indices) == 8 and indices[0] == 0 and indices[-1] == 4999
    for f in media.frames:
        assert (f.rgb == frame_colour(f.frame_index)).all(), f.frame_index


def test_gif_of_many_tiny_frames_is_refused_before_decoding() -> None:
    data = gif((1, 1), [((0, 0, 1, 1), (9, 9, 9))] * 200_000)
    t0 = time.perf_counter()
    with pytest.raises(MediaTooLarge, match="frames"):
        decode_image(data)
    assert time.perf_counter() - t0 < 2  # Pillow's own frame count takes seconds on such a file


@pytest.mark.parametrize("case", [c for c in CASE_IDS if c.startswith(("jpeg-1m", "jpeg-10mb", "jpeg-2000",
                                                                       "png-60k", "gif-600k", "gif-200k", "tiff-100k",
                                                                       "bigtiff-10m", "bmp-rle8-3mb"))])
def test_parsing_bombs_are_refused_before_pillow_parses_them(case: str) -> None:
    """Files whose structure would keep Pillow's Python parsers busy for seconds (up to a minute at 50 MB)."""
    data = dict((c[0], c[1]) for c in CASES)[case]()
    t0 = time.perf_counter()
    with pytest.raises(MediaTooLarge, match="too long to parse safely|would take about"):
        decode_image(data)
    assert time.perf_counter() - t0 < 1.0


def test_cost_is_checked_before_any_pixel_is_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_decoding(self: Any) -> None:
        raise AssertionError("decoded before the cost was checked")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    bomb = png_zip_bomb(3000)  # 9 MP: ~9 KB that inflate to 9 MB
    assert len(bomb) < 20_000
    with pytest.raises(MediaTooLarge, match="MiB"):
        decode_image(bomb, MediaLimits(max_decode_bytes=4 * 2**20))
    with pytest.raises(MediaTooLarge):
        probe(bomb, MediaLimits(max_decode_bytes=4 * 2**20))


def test_zip_bomb_under_the_budget_decodes() -> None:
    media = decode_image(png_zip_bomb(3000))
    assert media.frames[0].rgb.shape == (1920, 1920, 3) and (media.frames[0].rgb == 0).all()


def test_decode_cost_estimates() -> None:
    assert decode_cost(100, 100, "RGB") == 40_000  # Pillow keeps RGB in 4 bytes
    assert decode_cost(100, 100, "L") == 10_000
    assert decode_cost(100, 100, "I;16") == 20_000
    assert decode_cost(100, 100, "F") == 40_000
    assert decode_cost(100, 100, "P") == 50_000  # and a full-size RGB(A) copy before it can be reduced
    assert decode_cost(1, 1, "P", frames=3) == 5 + 2 * FRAME_COST_FLOOR
    # any still image under the default pixel cap fits the default budget
    assert decode_cost(10_000, 6_000, "P") <= LIMITS.max_decode_bytes
    assert decode_cost(10_000, 6_000, "CMYK") <= LIMITS.max_decode_bytes


def bmp_declaring(width: int, height: int) -> bytes:
    data = bytearray(sample("BMP"))
    struct.pack_into("<ii", data, 18, width, height)
    return bytes(data)


def gif_declaring(width: int, height: int) -> bytes:
    data = bytearray(sample("GIF"))
    struct.pack_into("<HH", data, 6, width, height)
    return bytes(data)


@pytest.mark.parametrize(
    ("make", "sides"),
    [
        (lambda: png_header_only(20000, 20000), "20000x20000"),
        (lambda: jpeg_declaring(65000, 65000), "65000x65000"),
        (lambda: webp_declaring(16384, 16384), "16384x16384"),
        (lambda: tiff({256: (4, [100_000]), 257: (4, [100_000])}), "100000x100000"),
        (lambda: tiff({256: (3, [9000]), 257: (3, [9000])}), "9000x9000"),
        (lambda: bmp_declaring(30000, -30000), "30000x30000"),
        (lambda: gif_declaring(65535, 65535), "65535x65535"),
    ],
    ids=["png", "jpeg", "webp", "tiff-long", "tiff-short", "bmp-top-down", "gif"],
)
def test_declared_size_is_refused_before_pillow_parses_the_file(make: Callable[[], bytes], sides: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("Pillow was asked to open it")

    data = make()
    monkeypatch.setattr(Image, "open", never)
    with pytest.raises(MediaTooLarge, match=sides):
        decode_image(data)


def test_pillow_guard_still_refuses_what_our_header_reading_misses(monkeypatch: pytest.MonkeyPatch) -> None:
    import service.media

    monkeypatch.setattr(service.media, "_structure", lambda *a: service.media._Structure())
    with pytest.raises(MediaTooLarge, match="declares 400 MP"):
        decode_image(png_header_only(20000, 20000))


def test_pillow_guard_is_back_on(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS >= LIMITS.max_pixels
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # something else in the process turned it off
    decode_image(sample("PNG"))
    assert Image.MAX_IMAGE_PIXELS == LIMITS.max_pixels
    decode_image(sample("PNG"), MediaLimits(max_pixels=200_000_000, max_decode_bytes=2**31))
    assert Image.MAX_IMAGE_PIXELS == 200_000_000  # follows a raised cap, so Pillow does not refuse what we allow


def test_probe_refuses_from_the_header_and_leaves_unreadable_files_to_the_decoder() -> None:
    with pytest.raises(MediaTooLarge):
        probe(png_header_only(30000, 100))
    with pytest.raises(MediaTooLarge):
        probe(gif((1, 1), [((0, 0, 1, 1), (9, 9, 9))] * 20_000))
    assert probe(b"%PDF-1.4") == 0 and probe(b"") == 0 and probe(sample("PNG")[:30]) == 0
    assert probe(sample("PNG")) == 96 * 64
    assert probe(gif((16, 16), [((0, 0, 16, 16), (1, 2, 3))] * 20), MediaLimits(max_frames=4)) == 16 * 16 * 4


def test_polyglots_decode_as_the_image_they_start_with() -> None:
    plain = decode_image(sample("PNG")).frames[0].rgb
    assert (decode_image(sample("PNG") + _zip()).frames[0].rgb == plain).all()
    jpeg = decode_image(sample("JPEG")).frames[0].rgb
    assert (decode_image(_jpeg_with_comment(b"<html><script>x</script>")).frames[0].rgb == jpeg).all()


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\win.ini", "win.ini"),
        ("a\x00b\r\nX-Injected: 1.jpg", "a?b??X-Injected: 1.jpg"),
        ("\u202egpj.exe", "?gpj.exe"),
        ("تصویر پولیس.jpg", "تصویر پولیس.jpg"),
        ("\udcff-lone-surrogate.jpg", "?-lone-surrogate.jpg"),
        ("", "upload"),
        ("..", "upload"),
        ("x" * 5000 + ".jpg", "x" * 119 + "\u2026"),
    ],
)
def test_odd_file_names_are_shown_safely(name: str, shown: str) -> None:
    assert safe_name(name) == shown
    assert decode_image(sample("PNG"), name=name).frames[0].name == shown
    with pytest.raises(UnsupportedMedia) as err:
        decode_image(b"not an image", name=name)
    assert str(err.value).startswith(f"{shown}: ")


def test_read_file_refuses_what_is_not_a_regular_file(tmp_path: Any) -> None:
    with pytest.raises(BadInput, match="not a regular file"):
        read_file(tmp_path)
    with pytest.raises(BadInput, match="not a regular file"):
        read_file("/dev/zero")  # a device has no size and never ends
    big = tmp_path / "big.png"
    big.write_bytes(sample("PNG") + b"\x00" * 2000)
    with pytest.raises(MediaTooLarge):
        read_file(big, MediaLimits(max_bytes=1000))


# ------------------------------------------------------------------------------------------------ HTTP


@pytest.fixture(scope="module")
def api() -> Any:
    settings = Settings(detectors=["fake_red", "fake_caption"])
    store = MemoryStore()
    app = create_app(settings, Screener(settings, recognizer=EchoRecognizer()), store=store)
    _, token = store.add_key("k-hostile", "screen")
    with TestClient(app, raise_server_exceptions=True) as client:
        yield client, {"Authorization": f"Bearer {token}"}


ERROR_NAMES = {400: {"BadInput"}, 413: {"MediaTooLarge"}, 415: {"UnsupportedMedia"}}


def check_response(r: Any, allowed: set[Any]) -> dict[str, Any]:
    status = OK if r.status_code == 200 else r.status_code
    assert status in allowed, f"{r.status_code} {r.text[:300]}"
    assert "Traceback" not in r.text and 'File "/' not in r.text
    assert r.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = r.json()
    if r.status_code != 200:
        assert set(body) == {"error", "detail"} and body["error"] in ERROR_NAMES[r.status_code], body
        assert isinstance(body["detail"], str) and body["detail"]
    return body


@pytest.mark.parametrize(("case", "make", "allowed"), CASES, ids=CASE_IDS)
def test_http_gives_a_result_or_a_documented_error(api: Any, case: str, make: Callable[[], bytes],
                                                   allowed: set[Any]) -> None:
    client, auth = api
    data = make()
    r = client.post("/v1/screen", files={"files": (f"{case}.bin", data, "image/jpeg")}, headers=auth)
    body = check_response(r, allowed)
    if r.status_code == 200:
        assert body["decision"] in {"clear", "review", "violation"}
        assert "<script>" not in r.text  # a polyglot's payload is never echoed
    else:
        # the same answer as the core call
        got, _ = outcome(lambda: decode_image(data, LIMITS, name=f"{case}.bin"))
        assert got == r.status_code


@pytest.mark.parametrize(
    ("filename", "content_type", "data", "allowed"),
    [
        ("photo.txt", "text/plain", sample("PNG"), {OK}),
        ("notes.jpg", "image/jpeg", b"just text, not a picture", {E415}),
        ("doc.pdf", "application/pdf", b"%PDF-1.7\n%%EOF", {E415}),
        ("photo.png", "application/octet-stream", sample("PNG"), {OK}),
        ("photo.gif", "image/png", sample("JPEG"), {OK}),
        ("data.json", "application/json", b'{"images": []}', {E415}),
    ],
)
def test_http_judges_the_bytes_not_the_declared_type(api: Any, filename: str, content_type: str, data: bytes,
                                                     allowed: set[Any]) -> None:
    client, auth = api
    r = client.post("/v1/screen", files={"files": (filename, data, content_type)}, headers=auth)
    check_response(r, allowed)


def _raw_multipart(filename: bytes, data: bytes) -> tuple[bytes, str]:
    boundary = "hostileboundary"
    body = (b"--" + boundary.encode() + b'\r\nContent-Disposition: form-data; name="files"; filename="' + filename +
            b'"\r\nContent-Type: image/png\r\n\r\n' + data + b"\r\n--" + boundary.encode() + b"--\r\n")
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize(
    "filename",
    [
        b"../../etc/passwd",
        b"a\x01b\x1b[31mred.png",
        "\u202egnp.exe".encode(),
        "تصویر.png".encode(),
        b"\xff\xfe\xfd-not-utf8.png",
        b"x" * 4000 + b".png",
        b"",
    ],
)
def test_http_odd_file_names(api: Any, filename: bytes) -> None:
    client, auth = api
    for data, allowed in ((sample("PNG"), {OK}), (b"not an image", {E415})):
        body, ctype = _raw_multipart(filename, data)
        r = client.post("/v1/screen", content=body, headers={**auth, "Content-Type": ctype})
        got = check_response(r, allowed)
        shown = [i["name"] for i in got["images"]] if r.status_code == 200 else [got["detail"].split(": ")[0]]
        for name in shown:
            assert "/" not in name and "\\" not in name and len(name) <= 120
            assert not any(unicodedata.category(c) == "Cc" or c == "\u202e" for c in name), name


def test_http_zero_byte_file_and_empty_post(api: Any) -> None:
    client, auth = api
    r = client.post("/v1/screen", files={"files": ("empty.jpg", b"", "image/jpeg")}, headers=auth)
    assert check_response(r, {E400})["error"] == "BadInput"
    r = client.post("/v1/screen", headers=auth)
    check_response(r, {E400})


def test_http_bomb_is_refused_quickly(api: Any) -> None:
    client, auth = api
    t0 = time.perf_counter()
    r = client.post("/v1/screen", files={"files": ("bomb.png", png_header_only(65535, 65535), "image/png")},
                    headers=auth)
    assert check_response(r, {E413})["error"] == "MediaTooLarge"
    assert time.perf_counter() - t0 < 2
    assert re.search(r"\d+ MP", r.json()["detail"])


def test_hook_json_carries_the_same_hostile_images(api: Any) -> None:
    import base64

    client, auth = api
    for data, allowed in ((png_header_only(20000, 20000), {E413}), (tiff({273: (2, b"12\x00\x00")}), {E400}),
                          (zlib.compress(b"x" * 1000), {E415}), (sample("GIF"), {OK})):
        r = client.post("/v1/hook", json={"images_b64": [base64.b64encode(data).decode()]}, headers=auth)
        check_response(r, allowed)
    r = client.post("/v1/hook", json={"images_b64": ["not base64!"]}, headers=auth)
    check_response(r, {E400})


# ------------------------------------------------------------------------------------------------ the fuzzers


def test_decode_fuzzer_runs_clean_and_catches_an_injected_bug(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import service.fuzz as fuzz

    report = fuzz.fuzz_decode(1.0, seed=3, out_dir=tmp_path / "clean")
    assert report.inputs > 50 and report.failure_count == 0 and report.notes == []
    assert {"ok", "BadInput"} <= set(report.outcomes)
    real = fuzz.decode_image

    def buggy(data: bytes, limits: MediaLimits, name: str) -> Any:
        if len(data) % 3 == 0:
            raise TypeError("injected")
        return real(data, limits, name)

    monkeypatch.setattr(fuzz, "decode_image", buggy)
    report = fuzz.fuzz_decode(0.5, seed=3, out_dir=tmp_path / "buggy")
    assert report.failure_count > 0 and any(k.startswith("TypeError@") for k in report.failures)
    saved = next(iter(report.failures.values())).saved
    assert saved is not None and len(open(saved, "rb").read()) % 3 == 0


def test_api_fuzzer_runs_clean_and_catches_an_injected_bug(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("schemathesis", reason="fuzz api needs schemathesis (the dev extra)")
    import service.fuzz as fuzz
    import service.pipeline

    settings = Settings(detectors=["fake_caption"])
    report = fuzz.fuzz_api(3.0, seed=3, out_dir=tmp_path / "clean", settings=settings)
    assert report.inputs > 20 and report.failure_count == 0, report.summary()

    def buggy(sub: Any, settings: Any) -> None:
        raise RuntimeError("injected")

    monkeypatch.setattr(service.pipeline, "check_submission", buggy)
    report = fuzz.fuzz_api(2.0, seed=3, out_dir=tmp_path / "buggy", settings=settings)
    assert any(k.startswith("RuntimeError@") for k in report.failures), report.summary()


def test_fuzz_command_parses_and_reports_json(capsys: pytest.CaptureFixture[str]) -> None:
    import argparse
    import json

    from service.commands import fuzz as command

    parser = argparse.ArgumentParser(prog="assetscreen")
    command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["fuzz", "decode", "--seconds", "0.3", "--seed", "5", "--json", "--out", "/nonexistent"])
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["target"] == "decode" and out["inputs"] > 0 and out["failures"] == 0


def test_mastodon_event_generator_never_mutates_its_constants() -> None:
    """Found by `fuzz api`: mutations wrote into the shared odd values, until a list held itself (the fuzzer
    crashed with a circular reference, and a seed no longer replayed the same inputs)."""
    import random

    import service.fuzz as fuzz

    before = repr(fuzz.JSON_ODDITIES)
    bodies = [fuzz.mastodon_event(random.Random(seed)) for seed in range(3000)]
    assert repr(fuzz.JSON_ODDITIES) == before
    assert bodies[:50] == [fuzz.mastodon_event(random.Random(seed)) for seed in range(50)]  # replayable
