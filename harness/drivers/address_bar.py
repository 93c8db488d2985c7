"""A browser's address bar drawn above a page screenshot: attendees see which site they are on.

Neither driver photographs a browser's own frame (Chromium's headless screenshots are of the page
only), yet "which site am I on?" is the first thing the guide teaches. So a bar is drawn above the
picture: a padlock and the page's address as the real service has it — its real host name (the
world's sites already carry it) and path, without the world's loopback port, which no professional
ever sees. The X-screen grabs of the PIN dialog are not given one: they show the real window.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from PIL import Image, ImageDraw, ImageFont

BAR_HEIGHT = 44
FONT_SIZE = 16
FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",  # Debian's fonts-dejavu-core (Chromium depends on it)
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
)
FRAME, FIELD, BORDER, TEXT, HOST, PADLOCK = "#dee1e6", "#ffffff", "#c4c7cc", "#5f6368", "#202124", "#188038"

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def shown_address(url: str) -> tuple[str, str]:
    """(scheme and host, the rest) as the bar shows them: ``https://wallet.esw.esante.gouv.fr``, ``/activation``.

    The port is dropped (the world's sites listen on loopback ports; the real ones on 443), the
    query and fragment are kept: they are part of what the address bar shows."""
    parts = urlsplit(url)
    if not parts.hostname:
        return "", ""
    rest = parts.path or "/"
    if parts.query:
        rest += f"?{parts.query}"
    if parts.fragment:
        rest += f"#{parts.fragment}"
    return f"{parts.scheme}://{parts.hostname or ''}", rest


@cache
def _font() -> Font:
    for path in FONTS:
        if Path(path).exists():
            return ImageFont.truetype(path, FONT_SIZE)
    return ImageFont.load_default(FONT_SIZE)


def _padlock(draw: ImageDraw.ImageDraw, x: int, middle: int) -> None:
    """A closed padlock, 10 × 14 px, its body centred on ``middle``."""
    draw.arc((x + 1, middle - 9, x + 9, middle - 1), 180, 360, fill=PADLOCK, width=2)
    draw.line((x + 1, middle - 5, x + 1, middle - 2), fill=PADLOCK, width=2)
    draw.line((x + 9, middle - 5, x + 9, middle - 2), fill=PADLOCK, width=2)
    draw.rounded_rectangle((x, middle - 2, x + 10, middle + 6), radius=2, fill=PADLOCK)


def with_address_bar(png: bytes, url: str) -> bytes:
    """``png`` with an address bar showing ``url`` drawn above it (the picture grows by ``BAR_HEIGHT`` rows)."""
    with Image.open(io.BytesIO(png)) as page:
        page.load()
        shot = page.convert("RGB")
    framed = Image.new("RGB", (shot.width, shot.height + BAR_HEIGHT), FRAME)
    framed.paste(shot, (0, BAR_HEIGHT))
    draw = ImageDraw.Draw(framed)
    draw.line((0, BAR_HEIGHT - 1, shot.width, BAR_HEIGHT - 1), fill=BORDER)
    field = (10, 7, shot.width - 10, BAR_HEIGHT - 8)
    draw.rounded_rectangle(field, radius=(field[3] - field[1]) // 2, fill=FIELD, outline=BORDER)
    middle = BAR_HEIGHT // 2
    _padlock(draw, 24, middle)
    font = _font()
    host, rest = shown_address(url)
    x = 44
    draw.text((x, middle), host, fill=HOST, font=font, anchor="lm")
    x += int(draw.textlength(host, font=font))
    draw.text((x, middle), rest, fill=TEXT, font=font, anchor="lm")
    out = io.BytesIO()
    framed.save(out, format="PNG")
    return out.getvalue()
