"""The protocol driver's page made self-contained for the console's sandboxed frame."""

from __future__ import annotations

import base64

from harness.trainer.snapshot import self_contained

PAGE = (
    '<html><head><link rel="stylesheet" href="/static/wallet.css"><link rel="icon" href="/favicon.ico"></head>'
    '<body><img src="qr.png?t=1&amp;x=2" alt="QR code"><img src="/missing.png" alt="absent">'
    '<img src="data:image/png;base64,AAAA" alt="inline"></body></html>'
)


async def test_stylesheets_and_images_come_from_the_world_into_the_page() -> None:
    asked: list[str] = []

    async def fetch(url: str) -> tuple[str, bytes] | None:
        asked.append(url)
        return {
            "https://wallet.esw.esante.gouv.fr:4443/static/wallet.css": ("text/css", b"body{color:navy}</style>"),
            "https://wallet.esw.esante.gouv.fr:4443/activation/qr.png?t=1&x=2": ("image/png", b"\x89PNG"),
        }.get(url)

    page = await self_contained(PAGE, "https://wallet.esw.esante.gouv.fr:4443/activation/carte", fetch)
    assert "<style>body{color:navy}<\\/style></style>" in page, "a stylesheet cannot close its own tag"
    png = base64.b64encode(b"\x89PNG").decode()
    assert f'<img src="data:image/png;base64,{png}" alt="QR code">' in page
    assert '<img src="/missing.png" alt="absent">' in page, "what the world does not serve is left as it was"
    assert 'rel="icon" href="/favicon.ico"' in page and "data:image/png;base64,AAAA" in page
    assert sorted(asked) == [
        "https://wallet.esw.esante.gouv.fr:4443/activation/qr.png?t=1&x=2",
        "https://wallet.esw.esante.gouv.fr:4443/missing.png",
        "https://wallet.esw.esante.gouv.fr:4443/static/wallet.css",
    ]
