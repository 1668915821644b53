"""The concept browser: one HTML page at `/` and its assets under `/static/`, all served by the app
(no CDN), so `make run` and a browser are enough, offline too.

Assets are revalidated on every load (`no-cache` + a strong ETag, 304 when unchanged): edits to
the page show up at once, and an unchanged asset costs one small request.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import Response

from ..errors import NotFound

STATIC = Path(__file__).resolve().parent.parent / "static"

# explicit types: the platform's mimetypes table differs between machines (e.g. .js, .svg)
_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
    ".woff2": "font/woff2",
}

# an asset's path: segments of ASCII letters, digits, `-`, `_` and `.`, none starting with `.`
_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}")
_MAX_NAME = 200

router = APIRouter(include_in_schema=False)


def _asset(name: str, if_none_match: str | None) -> Response:
    """The file `name` under STATIC, or 304 when the client's ETag still matches it; NotFound
    for any other name, one that could not name an asset included."""
    # checked before the file system sees it: NUL, an over-long name, `..`, a hidden file, an
    # empty segment (`a//b`, `app.js/`) or a character no asset name has are 404, not an
    # OSError or ValueError from the path functions
    if len(name) > _MAX_NAME or not all(_SEGMENT.fullmatch(part) for part in name.split("/")):
        shown = name if len(name) <= 80 else name[:80] + "..."
        raise NotFound(f"no static file {shown!r}", code="not_found")
    path = (STATIC / name).resolve()
    media_type = _MEDIA_TYPES.get(path.suffix)
    if not path.is_relative_to(STATIC) or not path.is_file() or media_type is None:
        raise NotFound(f"no static file {name!r}", code="not_found")
    body = path.read_bytes()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {
        "Cache-Control": "no-cache",
        "ETag": etag,
        "X-Content-Type-Options": "nosniff",
    }
    if if_none_match is not None and etag in {t.strip() for t in if_none_match.split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


@router.api_route("/", methods=["GET", "HEAD"])
def page(if_none_match: Annotated[str | None, Header()] = None) -> Response:
    return _asset("index.html", if_none_match)


@router.api_route("/static/{name:path}", methods=["GET", "HEAD"])
def static(name: str, if_none_match: Annotated[str | None, Header()] = None) -> Response:
    return _asset(name, if_none_match)
