"""Screenshots embedded in a page as ``data:`` URIs, re-encoded so that a whole run stays one readable file.

A page's screenshot (1024 × 764 with its address bar) is a lossless PNG of 50–110 kB, and a run
of the 41 scenarios with ``--screenshots`` holds over a hundred of them. Re-encoded as WebP at
quality 80 (every browser a trainer or a CI viewer uses shows WebP) a picture weighs 32–67 kB,
about half the PNG and half a JPEG of the same quality, and its text stays sharp; the width is kept, so
the address bar and the forms read as on the screen. Measured sizes are in docs/trainer-and-ci.md.
"""

from __future__ import annotations

import base64
import io

from PIL import Image

from harness.reporting.render import DataUri

WEBP_QUALITY = 80
"""Text and forms stay crisp; below 70 the address bar's letters start to smear."""


def shrink(png: bytes) -> tuple[str, bytes]:
    """(MIME type, bytes) of ``png`` re-encoded for a page; the PNG itself when it cannot be read."""
    try:
        with Image.open(io.BytesIO(png)) as image:
            image.load()
            rgb = image.convert("RGB")
    except (OSError, ValueError):  # not a picture Pillow reads: embedded as it came
        return "image/png", png
    out = io.BytesIO()
    rgb.save(out, format="WEBP", quality=WEBP_QUALITY, method=2)  # 2: as small as 4–6 within 5 %, twice as fast
    return "image/webp", out.getvalue()


def data_uri(png: bytes) -> DataUri:
    """The screenshot as a ``data:`` URI, shrunk (``shrink``)."""
    mime, data = shrink(png)
    return DataUri(f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}")
