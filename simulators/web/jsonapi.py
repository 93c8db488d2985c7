"""JSON endpoints' common ground: bodies must be JSON objects; errors are JSON with a reason."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web


def error(status: type[web.HTTPException], message: str, **extra: Any) -> web.HTTPException:
    """An HTTP error whose body is ``{"error": message, …}`` (English: it is for developers)."""
    return status(text=json.dumps({"error": message, **extra}, ensure_ascii=False), content_type="application/json")


async def read_object(request: web.Request) -> dict[str, Any]:
    """The request's JSON object; 400 for anything else (no body counts as ``{}``)."""
    raw = await request.read()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise error(web.HTTPBadRequest, "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise error(web.HTTPBadRequest, "the body must be a JSON object")
    return body
