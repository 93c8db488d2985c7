"""JSON endpoints' common ground: bodies must be JSON objects; errors are JSON with a reason."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

MAX_DEPTH = 32
"""How deeply a body's arrays and objects may nest. Every admin body is two or three levels deep;
a limit well under Python's recursion limit keeps a hostile body (``[[[[…``) from reaching any
recursive code (the JSON parser's, pydantic's, a handler's) as a RecursionError: a 500."""


def error(status: type[web.HTTPException], message: str, **extra: Any) -> web.HTTPException:
    """An HTTP error whose body is ``{"error": message, …}`` (English: it is for developers)."""
    return status(text=json.dumps({"error": message, **extra}, ensure_ascii=False), content_type="application/json")


def _nesting(value: Any) -> int:
    """How deeply ``value`` nests (a scalar 0, ``[]`` 1, ``[[]]`` 2), counted without recursion."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            break
        pending.extend((child, depth + 1) for child in children)
    return deepest


async def read_object(request: web.Request) -> dict[str, Any]:
    """The request's JSON object; 400 for anything else (no body counts as ``{}``)."""
    raw = await request.read()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except RecursionError:  # the C parser's own limit (~1,000 levels): a clean error, caught here
        raise error(web.HTTPBadRequest, f"the body nests deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError):
        raise error(web.HTTPBadRequest, "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise error(web.HTTPBadRequest, "the body must be a JSON object")
    if _nesting(body) > MAX_DEPTH:
        raise error(web.HTTPBadRequest, f"the body nests deeper than {MAX_DEPTH} levels")
    return body
