"""Decoding: every format people send opens; every hostile file fails fast with a typed error."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from digitrec.engine import decode
from digitrec.engine.decode import WORKING_SIZE
from digitrec.engine.errors import UnsupportedImage
from digitrec.training import renderings


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def seven() -> Image.Image:
    """A 300x200 RGB picture: a dark 7 on white, wider than tall so orientation shows."""
    pixels = np.full((200, 300, 3), 255, np.uint8)
    pixels[40:60, 100:200] = 0  # top bar
    for row in range(60, 170):
        col = 200 - (row - 60) * 70 // 110
        pixels[row, col - 10 : col + 10] = 0
    return Image.fromarray(pixels)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF", "AVIF"])
def test_every_supported_format_decodes_to_the_same_picture(seven, fmt):
    pixels = decode(encode(seven, fmt))
    grey = pixels if pixels.ndim == 2 else pixels[..., :3].mean(axis=2)
    assert grey.shape == (200, 300)
    assert np.abs(grey.astype(float) - np.asarray(seven.convert("L"), float)).mean() < 8


def test_a_heic_photo_is_told_to_come_as_jpeg():
    """An iPhone's own format (HEIF with HEVC) is not read; the answer says what to send."""
    header = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64)
    with pytest.raises(UnsupportedImage) as raised:
        decode(header)
    assert "HEIC" in raised.value.message and "JPEG" in raised.value.message


def test_animated_gif_gives_its_first_frame(seven):
    blank = Image.new("RGB", seven.size, "white")
    data = encode(seven, "GIF", save_all=True, append_images=[blank], duration=100)
    pixels = decode(data)
    assert pixels.min() < 50  # the 7 of the first frame, not the blank second frame


def test_exif_orientation_is_applied(seven):
    # Stored sideways, with EXIF saying "rotate 90° clockwise to display" (orientation 6).
    stored = seven.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    pixels = decode(encode(stored, "JPEG", exif=exif, quality=95))
    assert pixels.shape[:2] == (200, 300)
    grey = pixels.mean(axis=2)
    assert np.abs(grey - np.asarray(seven.convert("L"), float)).mean() < 8


def test_png_with_exif_orientation_is_turned_too(seven):
    # PNGs carry EXIF in an eXIf chunk; those go through Pillow, which applies it.
    exif = Image.Exif()
    exif[0x0112] = 6
    stored = seven.transpose(Image.Transpose.ROTATE_90)
    pixels = decode(encode(stored, "PNG", exif=exif))
    assert pixels.shape[:2] == (200, 300)
    assert np.abs(pixels.mean(axis=2) - np.asarray(seven.convert("L"), float)).mean() < 1


@pytest.mark.parametrize(
    "mode", ["L", "LA", "RGB", "RGBA", "P", "P+transparency", "RGB+transparency", "1", "RGB;16"]
)
def test_fast_png_decoding_gives_exactly_what_pillow_gives(seven, mode):
    """Plain 8-bit PNGs are decoded by libspng, the others by Pillow; the pixels must equal
    Pillow's, channel order and transparency included."""
    rng = np.random.default_rng(1)
    base = Image.fromarray(rng.integers(0, 256, (30, 45, 3), np.uint8))
    if mode == "P+transparency":
        data = encode(base.convert("P"), "PNG", transparency=0)
    elif mode == "RGB+transparency":  # a tRNS colour key on a truecolour image
        data = encode(base, "PNG", transparency=tuple(int(v) for v in np.asarray(base)[0, 0]))
    elif mode == "RGBA":
        data = encode(Image.fromarray(rng.integers(0, 256, (30, 45, 4), np.uint8)), "PNG")
    elif mode == "RGB;16":  # 16 bits per channel: Pillow reads the high bytes
        data = cv2.imencode(".png", rng.integers(0, 65536, (30, 45, 3), np.uint16))[1].tobytes()
    else:
        data = encode(base.convert(mode), "PNG")
    standard = {"L": "L", "1": "L", "RGB": "RGB", "P": "RGB", "RGB;16": "RGB"}.get(mode, "RGBA")
    with Image.open(io.BytesIO(data)) as reference:
        wanted = reference.convert(standard)
    assert np.array_equal(decode(data), np.asarray(wanted))


def test_transparency_is_kept_for_the_preprocessor(seven):
    rgba = Image.new("RGBA", (50, 40), (0, 0, 0, 0))
    assert decode(encode(rgba, "PNG")).shape == (40, 50, 4)
    palette = seven.convert("P")
    palette.info["transparency"] = 0
    assert decode(encode(palette, "PNG", transparency=0)).shape[2] == 4


def test_sixteen_bit_grey_is_scaled_not_clipped():
    values = np.zeros((40, 40), np.uint16)
    values[10:30, 18:22] = 40000
    pixels = decode(encode(Image.fromarray(values), "PNG"))
    assert pixels.dtype == np.uint8 and pixels.max() == 255 and pixels.min() == 0


def test_large_images_are_reduced_to_the_working_size(seven):
    big = seven.resize((3000, 2000))
    for fmt in ("PNG", "JPEG"):
        assert max(decode(encode(big, fmt)).shape[:2]) <= WORKING_SIZE


def test_hostile_files_fail_fast_with_a_typed_plain_words_error(seven):
    for name, (data, error) in renderings.hostile_files(seven).items():
        with pytest.raises(error) as raised:  # how fast: benchmarks/bench_engine.py
            decode(data)
        message = raised.value.message
        assert message.endswith(".") and len(message) > 20, name
        assert "Traceback" not in message and "BytesIO" not in message, name
