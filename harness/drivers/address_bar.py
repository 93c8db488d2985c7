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
FRAME, FIELD, BORDER, TEXT, HOST, PADLOCK, WARNING = (
    "#dee1e6", "#ffffff", "#c4c7cc", "#5f6368", "#202124", "#188038", "#5f6368"
)  # fmt: skip

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


def _warning(draw: ImageDraw.ImageDraw, x: int, middle: int) -> None:
    """An ⓘ in a circle: what Chromium shows instead of the padlock when the secure connection failed."""
    draw.ellipse((x - 1, middle - 7, x + 13, middle + 7), outline=WARNING, width=2)
    draw.line((x + 6, middle - 1, x + 6, middle + 4), fill=WARNING, width=2)
    draw.point([(x + 6, middle - 4), (x + 5, middle - 4), (x + 6, middle - 3), (x + 5, middle - 3)], fill=WARNING)


def with_address_bar(png: bytes, url: str, *, secure: bool = True) -> bytes:
    """``png`` with an address bar showing ``url`` drawn above it (the picture grows by ``BAR_HEIGHT`` rows).

    ``secure``: a page was served over the verified connection (a padlock); False for the browser's
    error page after a failed connection (no padlock, as Chromium shows it)."""
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
    (_padlock if secure else _warning)(draw, 24, middle)
    font = _font()
    host, rest = shown_address(url)
    x = 44
    room = field[2] - 12 - x - int(draw.textlength(host, font=font))
    if draw.textlength(rest, font=font) > room:  # a long OAuth query: cut, as a narrow bar does
        while rest and draw.textlength(rest + "…", font=font) > room:
            rest = rest[:-1]
        rest += "…"
    draw.text((x, middle), host, fill=HOST, font=font, anchor="lm")
    x += int(draw.textlength(host, font=font))
    draw.text((x, middle), rest, fill=TEXT, font=font, anchor="lm")
    out = io.BytesIO()
    framed.save(out, format="PNG", compress_level=1)  # a step's picture, re-encoded for the page anyway
    return out.getvalue()
