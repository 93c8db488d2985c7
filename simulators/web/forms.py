"""Reading a posted form: the named fields, or a 4xx that says which are missing.

Every site's form handler goes through here, so malformed input is a clear 4xx and never a 500.
"""

from __future__ import annotations

from aiohttp import web

MAX_FORM = 4096
"""Bytes a site accepts in a form (``client_max_size`` of its application)."""


async def form_fields(request: web.Request, *names: str) -> dict[str, str]:
    """The named fields of a posted form; 400 with the missing names if any is absent."""
    if request.content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise web.HTTPUnsupportedMediaType(text="envoyez un formulaire (application/x-www-form-urlencoded)")
    try:
        data = await request.post()
    except (ValueError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text="formulaire illisible") from None
    values = {name: data.get(name) for name in names}
    missing = [name for name, value in values.items() if not isinstance(value, str)]
    if missing:
        raise web.HTTPBadRequest(text=f"champ(s) manquant(s) : {', '.join(missing)}")
    return {name: str(value) for name, value in values.items()}
