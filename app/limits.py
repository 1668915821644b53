"""Limits on what a request may carry: the size of its body, and what counts as text.

`BodySizeLimit` is a pure ASGI middleware: it answers 413 with the one error body, at once when
`Content-Length` declares more than `max_bytes`, else as soon as the bytes read pass it (chunked
uploads declare no length). It never buffers the body itself, so a handler that streams still
streams.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .config import Settings
from .errors import error_response

# categories that print nothing: controls (NUL, ESC, ...), format marks (RLM, ZWSP, BOM, ...)
# and separators. Counted in the Basic Multilingual Plane only, so that one short character class
# says it in OpenAPI (`visible_pattern`), which JSON Schema's regular expressions can read
# (`\\u` and four hex digits, no astral escapes); beyond it, and unassigned code points
# anywhere, are text that matches nothing rather than a refusal.
_INVISIBLE = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})
_BMP = 0x10000
_ERROR_BODY = "#/components/schemas/ErrorBody"
_REFUSALS = {
    "413": "Request body larger than max_body_bytes",
    "422": "Invalid input (the message names the field)",
    # answered by the HTTP layer (app/server.py) before the app sees the request
    "431": "Request line and headers larger than max_header_bytes (send long queries by POST)",
}
_ANY_REQUEST = ("413", "431")  # may answer any operation, not only one that validates input


@functools.cache
def visible_pattern() -> str:
    """A regular expression (JSON Schema and Python alike) that finds a visible character: one
    outside the invisible categories of the BMP. `q` and `question` must contain a match."""
    ranges: list[list[int]] = []
    for code in range(_BMP):
        if unicodedata.category(chr(code)) in _INVISIBLE:
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])
    parts = (f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in ranges)
    return "[^" + "".join(parts) + "]"


@functools.cache
def _visible() -> re.Pattern[str]:
    return re.compile(visible_pattern())


def is_blank(text: str) -> bool:
    """Whether `text` has no visible character (`visible_pattern`): only whitespace, control
    or format characters of the BMP (a query of NUL, a right-to-left mark or a zero-width space
    asks nothing)."""
    return _visible().search(text) is None


class _BodyTooLarge(Exception):
    """Raised into the application by `receive` once the body passes the limit."""


class BodySizeLimit:
    """Refuses request bodies longer than `max_bytes` with 413 `payload_too_large`."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _refusal(self) -> str:
        return (
            f"request body: larger than {self.max_bytes} bytes "
            "(max_body_bytes, LEADGRAPH_MAX_BODY_BYTES)"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await error_response(413, "payload_too_large", self._refusal())(scope, receive, send)
            return

        received = 0
        exceeded = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise _BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            # whatever the app answers to the interrupted read (FastAPI turns any error while
            # reading a body into a 400) gives way to the 413
            if exceeded and not started:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            # the interruption comes out as it is, wrapped by a task group (the MCP SDK's), or
            # as an error of the app's own; past the limit, every one of them means the 413
            if not exceeded or started:
                raise
        if exceeded and not started:
            await error_response(413, "payload_too_large", self._refusal())(scope, receive, send)


def document_limits(app: FastAPI, settings: Settings) -> None:
    """Makes `app`'s OpenAPI document state the configured limits (`maxLength` of `q`,
    `question` and a SPARQL `query`, `maximum` of `k` and `limit`) and the refusals they cause:
    413 on every operation, and 422 with the one error body where FastAPI would document its own.
    The routers are declared once for every Settings, so this is done when the document is
    first built."""
    build = app.openapi
    bounds: dict[str, dict[str, int]] = {
        "q": {"minLength": 1, "maxLength": settings.max_text_chars},
        "question": {"minLength": 1, "maxLength": settings.max_text_chars},
        "k": {"minimum": 1, "maximum": settings.max_k},
        "limit": {"minimum": 1, "maximum": settings.max_k},
        "query": {"maxLength": settings.sparql_max_chars},
    }

    def bounded(schema: dict[str, Any], name: str) -> None:
        # `str | None` parameters are written as anyOf [string, null]: bound the string branch
        for branch in schema.get("anyOf", [schema]):
            for key, value in bounds.get(name, {}).items():
                wanted = "string" if key.endswith("Length") else "integer"
                if branch.get("type") == wanted:
                    branch[key] = value
            if name in ("q", "question") and branch.get("type") == "string":
                branch["pattern"] = visible_pattern()  # blank text is refused (is_blank)

    def openapi() -> dict[str, Any]:
        first = app.openapi_schema is None
        spec = build()
        if first:
            components = spec.get("components", {}).get("schemas", {})
            for operation in (op for path in spec["paths"].values() for op in path.values()):
                for parameter in operation.get("parameters", []):
                    if parameter.get("in") == "query":
                        bounded(parameter.get("schema", {}), parameter["name"])
                for content in operation.get("requestBody", {}).get("content", {}).values():
                    ref = content.get("schema", {}).get("$ref", "")
                    body = components.get(ref.rpartition("/")[2], {})
                    for name, schema in body.get("properties", {}).items():
                        bounded(schema, name)
                responses = operation.setdefault("responses", {})
                for status, description in _REFUSALS.items():
                    declared = responses.get(status)
                    # 413 and 431 may answer any request; 422 only where FastAPI validates
                    if (status in _ANY_REQUEST or declared) and "ErrorBody" not in str(declared):
                        responses[status] = {
                            "description": description,
                            "content": {"application/json": {"schema": {"$ref": _ERROR_BODY}}},
                        }
            if "HTTPValidationError" not in str(spec["paths"]):
                components.pop("HTTPValidationError", None)
                components.pop("ValidationError", None)
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
