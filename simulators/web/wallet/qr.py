"""The activation QR code's image: a PNG (segno) inlined in the wallet's page.

The phone reads it from the image as a camera would, so a page that draws no readable QR code
cannot be scanned. What it encodes is the rules' (``rules.qr_payload``).
"""

from __future__ import annotations

from dataclasses import dataclass

import segno

SCALE = 6
"""Pixels per module: about 200 px for the wallet's URL, easy for a camera (or zxing on a screenshot)."""
BORDER = 4
"""The quiet zone the QR code standard asks for, in modules."""


@dataclass(frozen=True)
class QrImage:
    data_uri: str
    """``data:image/png;base64,…``: the page stays self-contained."""
    size: int
    """Width and height in pixels."""


def qr_image(payload: str) -> QrImage:
    """The QR code of ``payload`` as an inline PNG (error correction M, as most apps print)."""
    code = segno.make(payload, error="m", micro=False)
    width, _ = code.symbol_size(scale=SCALE, border=BORDER)
    return QrImage(code.png_data_uri(scale=SCALE, border=BORDER), int(width))
