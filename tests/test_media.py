import numpy as np
import pytest
from PIL import Image

from detectors.errors import BadInput, MediaTooLarge, UnsupportedMedia
from service.media import decode_image, read_file
from service.settings import MediaLimits
from tests.imagegen import encode, gradient, png_header_only


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF"])
def test_formats_decode_to_rgb(fmt):
    data = encode(Image.fromarray(gradient()), fmt)
    media = decode_image(data, name=f"x.{fmt}")
    (frame,) = media.frames
    assert frame.rgb.shape == (48, 64, 3) and frame.rgb.dtype == np.uint8
    assert media.format == fmt


def test_exif_orientation_is_applied():
    im = Image.fromarray(gradient(80, 40))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    media = decode_image(encode(im, "JPEG", exif=exif))
    assert media.frames[0].rgb.shape[:2] == (80, 40)


def test_alpha_is_composited_on_white():
    im = Image.new("RGBA", (10, 10), (255, 0, 0, 0))
    rgb = decode_image(encode(im, "PNG")).frames[0].rgb
    assert (rgb == 255).all()


@pytest.mark.parametrize("mode", ["P", "L", "LA", "1", "CMYK", "I;16"])
def test_modes_convert(mode):
    base = Image.fromarray(gradient())
    im = base.convert("CMYK") if mode == "CMYK" else base.convert("L").convert(mode)
    fmt = "JPEG" if mode == "CMYK" else ("TIFF" if mode == "I;16" else "PNG")
    rgb = decode_image(encode(im, fmt)).frames[0].rgb
    assert rgb.shape == (48, 64, 3) and rgb.dtype == np.uint8


def test_sixteen_bit_keeps_contrast():
    a = (np.linspace(0, 65535, 64 * 48).reshape(48, 64)).astype(np.uint16)
    rgb = decode_image(encode(Image.fromarray(a), "PNG")).frames[0].rgb
    assert rgb.min() < 10 and rgb.max() > 245


def test_animated_gif_yields_sampled_frames():
    frames = [Image.fromarray(np.full((20, 20, 3), v, np.uint8)) for v in range(0, 250, 10)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50)
    media = decode_image(data, MediaLimits(max_frames=4))
    assert len(media.frames) == 4
    assert media.frames[0].frame_index == 0 and media.frames[-1].frame_index == len(frames) - 1


@pytest.mark.parametrize(
    "data, err",
    [
        (b"", BadInput),
        (b"not an image at all", UnsupportedMedia),
        (b"%PDF-1.4 hello", UnsupportedMedia),
    ],
)
def test_garbage_is_rejected_clearly(data, err):
    with pytest.raises(err):
        decode_image(data)


def test_truncated_jpeg_is_bad_input():
    data = encode(Image.fromarray(gradient(256, 256)), "JPEG")
    with pytest.raises(BadInput, match="corrupt or truncated"):
        decode_image(data[: len(data) // 2])


def test_corrupt_body_is_bad_input():
    data = bytearray(encode(Image.fromarray(gradient(256, 256)), "PNG"))
    data[100:200] = b"\xff" * 100
    with pytest.raises(BadInput):
        decode_image(bytes(data))


def test_decompression_bomb_rejected_from_header():
    with pytest.raises(MediaTooLarge, match="20000x20000"):
        decode_image(png_header_only(20000, 20000))


def test_byte_cap():
    with pytest.raises(MediaTooLarge):
        decode_image(b"\x00" * 2000, MediaLimits(max_bytes=1000))


def test_wrong_type_rejected():
    with pytest.raises(BadInput):
        decode_image("hello")  # type: ignore[arg-type]


def test_large_image_is_downscaled_to_work_side():
    im = Image.fromarray(np.zeros((1000, 3000, 3), np.uint8))
    media = decode_image(encode(im, "PNG"), MediaLimits(work_side=1500))
    assert media.frames[0].rgb.shape == (500, 1500, 3)
    assert media.original_size == (3000, 1000)


def test_read_file_missing(tmp_path):
    with pytest.raises(BadInput, match="cannot read"):
        read_file(tmp_path / "nope.jpg")
