"""Bytes -> pixels: read an image file safely, whatever a user (or an attacker) sends.

Only raster formats people actually send are opened (PNG, JPEG, GIF, BMP, WebP, TIFF, AVIF). The
declared size is checked before any pixel is decoded, so a decompression bomb costs
nothing. EXIF orientation is applied, animations give their first frame, and large images
are reduced while decoding (JPEG draft mode) to a working size that is plenty for one digit.

Pillow reads every header and decodes every format; plain 8-bit PNGs (what a canvas sends,
the hot path) are decoded by libspng (pyspng) instead, once Pillow has checked the header:
0.52 ms for a 280x280 canvas, against 0.78 ms with OpenCV and 1.4 ms with Pillow.
"""

from __future__ import annotations

import io
import warnings

import cv2
import numpy as np
import pyspng
from PIL import Image, ImageOps, features

from digitrec.engine.errors import ImageTooLarge, UnsupportedImage

# MPO photos open as JPEG; AVIF where Pillow was built with it (its wheels are).
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF") + (("AVIF",) if features.check("avif") else ())
MAX_PIXELS = 40_000_000  # declared width x height; a 40 MP phone photo still passes
# JPEGs are decoded straight at a reduced DCT scale, so 40 MP costs little; every other
# format is decoded in full first, so its pixels are held to what a worker can afford in
# memory and time (a 16 MP RGBA PNG: 0.33 s, +93 MB, see benchmarks/). A 300 dpi A4 scan
# is 8.7 MP.
MAX_FULL_DECODE_PIXELS = 16_000_000
DRAFT_FORMATS = ("JPEG", "MPO")  # decoded at reduced scale by Pillow's draft mode
WORKING_SIZE = 512  # longest side kept after decoding
JPEG_DRAFT_SIZE = 320  # JPEGs decode at the smallest DCT scale that keeps this longest side

# PNG colour type -> what libspng returns, for 8-bit PNGs: grey, RGB, grey + alpha
# (widened to RGBA, as the preprocessor expects), RGBA. Palettes, other bit depths and
# tRNS transparency are left to Pillow.
_SPNG_OUTPUT = {0: "L", 2: "RGB", 4: "RGBA", 6: "RGBA"}
_SUPPORTED = (
    "PNG, JPEG, GIF, BMP, WebP, TIFF or AVIF" if "AVIF" in FORMATS else "PNG, JPEG, GIF, BMP, WebP or TIFF"
)
# HEIF containers (an iPhone's HEIC photos): ISO base media files whose "ftyp" box names one
# of these brands. Told apart so that the answer can say what to do.
HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1")
Image.init()  # register every plugin once, so ``formats=`` can name them all


def decode(data: bytes, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Image file bytes -> uint8 array (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA."""
    if not data:
        raise UnsupportedImage(f"The file is empty: send {_SUPPORTED}.")
    with warnings.catch_warnings():
        # Our own size limit replaces Pillow's bomb warning; an error stays an error.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=FORMATS)
        except Image.DecompressionBombError:  # Pillow's own limit, far above ours
            raise ImageTooLarge(_too_large_message(None, min(max_pixels, MAX_FULL_DECODE_PIXELS))) from None
        except Image.UnidentifiedImageError:
            if data[4:8] == b"ftyp" and data[8:12] in HEIF_BRANDS:
                raise UnsupportedImage(
                    "HEIC/HEIF photos (an iPhone's own format) cannot be read here: send it as JPEG "
                    "(on an iPhone, Settings > Camera > Formats > Most Compatible, or share it as JPEG), "
                    f"or any of {_SUPPORTED}."
                ) from None
            raise UnsupportedImage(f"This is not an image we can read: send {_SUPPORTED}.") from None
        except Exception:  # Pillow's plugins raise many types on malformed headers
            raise UnsupportedImage(f"The image header is corrupt: send {_SUPPORTED}.") from None

        width, height = image.size
        if width <= 0 or height <= 0:
            raise UnsupportedImage("The image has no pixels (its width or height is 0).")
        drafted = image.format in DRAFT_FORMATS
        limit = max_pixels if drafted else min(max_pixels, MAX_FULL_DECODE_PIXELS)
        if width * height > limit:
            raise ImageTooLarge(_too_large_message(image.size, limit, f"a {image.format} image"))
        if image.format == "PNG" and b"eXIf" not in data and "transparency" not in image.info:
            pixels = _decode_png(data)
            if pixels is not None:
                return pixels
        try:
            if drafted:
                # Decode at 1/2, 1/4 or 1/8 scale straight from the DCT: far faster.
                scale = JPEG_DRAFT_SIZE / max(width, height)
                if scale < 1:
                    image.draft("RGB", (round(width * scale), round(height * scale)))
            image.load()
            image = ImageOps.exif_transpose(image)
            image = _to_standard_mode(image)
            if max(image.size) > WORKING_SIZE:
                image.thumbnail((WORKING_SIZE, WORKING_SIZE), Image.Resampling.BILINEAR)
            return np.asarray(image)
        except MemoryError:
            raise ImageTooLarge(_too_large_message(image.size, max_pixels)) from None
        except Exception:  # truncated data, bad chunks, broken EXIF ...
            raise UnsupportedImage(
                "The image file is truncated or corrupt: its pixels cannot be read."
            ) from None


def _decode_png(data: bytes) -> np.ndarray | None:
    """A plain 8-bit PNG (no EXIF, no tRNS) -> grey, RGB or RGBA uint8, with libspng; None
    for any other PNG, or one libspng cannot read (Pillow then decodes it or says what is
    wrong)."""
    # Pillow has checked the signature; IHDR comes first: bit depth at 24, colour type at 25.
    output = _SPNG_OUTPUT.get(data[25]) if data[12:16] == b"IHDR" and data[24] == 8 else None
    if output is None:
        return None
    try:
        pixels = pyspng.load(data, output)
    except RuntimeError:
        return None
    height, width = pixels.shape[:2]
    if max(height, width) > WORKING_SIZE:
        scale = WORKING_SIZE / max(height, width)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        pixels = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
    return pixels


def _to_standard_mode(image: Image.Image) -> Image.Image:
    """Any Pillow mode -> L, RGB or RGBA, keeping transparency and 16-bit range."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float32)
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) * (255.0 / (high - low)) if high > low else values * 0
        return Image.fromarray(scaled.astype(np.uint8))
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or ("transparency" in image.info)
    if has_alpha:
        return image if image.mode == "RGBA" else image.convert("RGBA")
    if image.mode in ("L", "RGB"):
        return image
    if image.mode == "1":
        return image.convert("L")
    return image.convert("RGB")


def _too_large_message(size: tuple[int, int] | None, max_pixels: int, kind: str = "an image") -> str:
    declared = f" declares {size[0]:,} × {size[1]:,} pixels and" if size else ""
    limit = f"the limit for {kind} is {_pixels(max_pixels)}"
    if kind == "an image" and max_pixels == MAX_FULL_DECODE_PIXELS:  # format unknown: say both
        limit = f"the limit is {_pixels(max_pixels)} ({_pixels(MAX_PIXELS)} for a JPEG photo)"
    return f"The image{declared} is too large: {limit}. Send a smaller image."


def _pixels(count: int) -> str:
    """A pixel limit in plain words: 16 megapixels, 50,000 pixels."""
    return f"{count / 1e6:.3g} megapixels" if count >= 1e6 else f"{count:,} pixels"
