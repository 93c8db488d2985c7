"""The activation QR code: what it says, and the image the wallet's page shows.

The wallet shows the QR code as a PNG (segno) inlined in the page, and the phone reads it from
the image as a camera would, so a page that draws no readable QR code cannot be scanned.

What it encodes: a URL of the wallet carrying the activation's one-time token,
``https://wallet.esw.esante.gouv.fr[:port]/activation/qr?jeton=<token>``. The e-CPS app reads
the token from it and sends it to the backend. No page answers that URL: it names the wallet as
the QR code's issuer (a camera app shows where it comes from) and carries the token, nothing more.
``token_from_qr`` accepts the bare token too, which the page offers under "Vous ne pouvez pas
scanner le QR code ?" for a trainer who types it on the virtual phone.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

import segno

QR_PATH = "/activation/qr"
TOKEN_PARAMETER = "jeton"
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


def qr_payload(wallet_origin: str, token: str) -> str:
    """The text of the QR code: the wallet's URL carrying ``token``."""
    return f"{wallet_origin.rstrip('/')}{QR_PATH}?{urlencode({TOKEN_PARAMETER: token})}"


def token_from_qr(text: str) -> str:
    """The activation token a scanned text carries: the ``jeton`` of a wallet QR URL, else the text itself
    (a bare token typed by hand, or any other QR code, which the backend then does not recognise)."""
    text = text.strip()
    parts = urlsplit(text)
    if parts.scheme in ("http", "https") and parts.path == QR_PATH:
        tokens = parse_qs(parts.query).get(TOKEN_PARAMETER, [])
        if len(tokens) == 1 and tokens[0]:
            return tokens[0]
    return text


def qr_image(payload: str) -> QrImage:
    """The QR code of ``payload`` as an inline PNG (error correction M, as most apps print)."""
    code = segno.make(payload, error="m", micro=False)
    width, _ = code.symbol_size(scale=SCALE, border=BORDER)
    return QrImage(code.png_data_uri(scale=SCALE, border=BORDER), int(width))
