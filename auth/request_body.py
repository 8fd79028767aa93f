"""Request bodies read up to a limit, never further: raw for the OAuth forms, or as a JSON
object for the REST routes GitLab calls. It lives here, the lowest layer that speaks HTTP,
because the API imports auth and auth never imports the API."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request


class BadBody(ValueError):
    """A body that is larger than its limit, is not JSON, or is JSON but not an object."""


async def read_body(request: Request, max_bytes: int) -> bytes | None:
    """The body, or None when it is larger than ``max_bytes`` (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json_object(request: Request, max_bytes: int) -> dict[str, Any]:
    """The JSON object posted (strict UTF-8 JSON); :class:`BadBody` says why there is none."""
    raw = await read_body(request, max_bytes)
    if raw is None:
        raise BadBody(f"the body is larger than {max_bytes} bytes")
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadBody("the body is not JSON") from None
    if not isinstance(parsed, dict):
        raise BadBody("the body must be a JSON object")
    return parsed
