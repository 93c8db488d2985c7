"""The phone's camera: the QR codes it reads off the computer's screen, decoded by zxing-cpp.

With a screen (the Chromium driver) the camera sees a screenshot of the page. Without one (the
protocol driver) it sees the page snapshot's inline images (``<img src="data:image/…;base64,…">``),
which is what a screen would show of them. Either way the phone reads pixels, never the markup's
text: a page whose QR code is missing, damaged or too small to decode cannot be scanned.
"""

from __future__ import annotations

import base64
import binascii
import io
from html.parser import HTMLParser

import zxingcpp
from PIL import Image, UnidentifiedImageError

QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
"""The camera looks for QR codes only, as the e-CPS app's scanner does."""
MAX_IMAGES = 16
"""Inline images looked at per page: a page is not a photo album, and each decode costs."""


def read_qr_codes(image: bytes) -> list[str]:
    """The texts of the QR codes an image shows (none when it is not an image zxing can read)."""
    try:
        with Image.open(io.BytesIO(image)) as picture:
            grey = picture.convert("L")  # whatever the PNG's mode (a screenshot's RGBA, segno's 1-bit)
        barcodes = zxingcpp.read_barcodes(grey, formats=QR_ONLY)
    except (UnidentifiedImageError, OSError, ValueError):
        return []
    return [barcode.text for barcode in barcodes if barcode.valid and barcode.text]


class _InlineImages(HTMLParser):
    """Collects the bytes of every ``<img>`` whose ``src`` is a base64 ``data:image/…`` URI."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.images: list[bytes] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "img" or len(self.images) >= MAX_IMAGES:
            return
        source = dict(attrs).get("src") or ""
        header, comma, data = source.partition(",")
        if not comma or not header.startswith("data:image/") or not header.endswith(";base64"):
            return
        try:
            self.images.append(base64.b64decode(data, validate=True))
        except (binascii.Error, ValueError):
            return  # a broken image shows nothing


def inline_images(html: str) -> list[bytes]:
    parser = _InlineImages()
    parser.feed(html)
    parser.close()
    return parser.images


def qr_codes_seen(screenshot: bytes | None, html: str) -> list[str]:
    """What the camera pointed at the computer reads: from the screenshot when there is a screen, else from
    the page's inline images."""
    if screenshot is not None:
        return read_qr_codes(screenshot)
    return [text for image in inline_images(html) for text in read_qr_codes(image)]
