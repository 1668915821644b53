"""Errors the service answers with, and the one JSON body they all share.

    ApiError                      {"error": code, "detail": message}
    ├── NotFound            404   concept_not_found, document_not_found, passage_not_found
    ├── NotAcceptable       406   not_acceptable: no representation for the Accept header
    ├── BadRequest          400   bad_query: SPARQL that does not parse, updates, SERVICE;
    │                             id_mismatch: an article's front matter id is not the path's
    ├── Unauthorized        401   unauthorized: admin call without the right bearer token
    ├── Forbidden           403   admin_disabled: admin endpoints off (no admin token set)
    ├── Conflict            409   update_in_progress, corpus_conflict: the corpus cannot change so
    ├── PayloadTooLarge     413   payload_too_large: a body or an article over its size limit
    ├── UnsupportedMedia    415   unsupported_media_type: a body of the wrong content type
    ├── Unprocessable       422   validation_error: a field out of range (also pydantic's);
    │                             invalid_document: an article the corpus reader refuses
    ├── IndexNotReady       503   index_not_ready: no index loaded (says what to run)
    ├── StorageUnavailable  503   storage_unavailable: the corpus or index folder cannot be
    │                             written (read-only, disk full); the update changed nothing
    ├── QueryTimeout        503   query_timeout: SPARQL ran past its time limit;
    │                             query_too_costly: past its memory budget
    ├── QueryCrashed        503   query_crashed: the SPARQL worker died (a signal such as SIGSEGV)
    └── Busy                503   busy: at capacity, with Retry-After (the queue is full, or the
                                  wait for a turn ran out)

Services raise these; routers hold no try/except; `install_handlers` turns every error, including
FastAPI's own validation and routing errors, into the same body.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

log = logging.getLogger("leadgraph")


class ErrorBody(BaseModel):
    error: str
    detail: str


class ApiError(Exception):
    status = 500
    code = "internal_error"

    headers: dict[str, str] | None = None  # extra response headers (WWW-Authenticate)

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code


class NotFound(ApiError):
    status = 404
    code = "not_found"


class NotAcceptable(ApiError):
    status = 406
    code = "not_acceptable"


class BadRequest(ApiError):
    status = 400
    code = "bad_request"


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"
    headers = {"WWW-Authenticate": "Bearer"}


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class Conflict(ApiError):
    status = 409
    code = "conflict"


class PayloadTooLarge(ApiError):
    status = 413
    code = "payload_too_large"


class UnsupportedMedia(ApiError):
    status = 415
    code = "unsupported_media_type"


class Unprocessable(ApiError):
    status = 422
    code = "validation_error"


class IndexNotReady(ApiError):
    status = 503
    code = "index_not_ready"


class StorageUnavailable(ApiError):
    status = 503
    code = "storage_unavailable"


class QueryTimeout(ApiError):
    status = 503
    code = "query_timeout"


class QueryCrashed(ApiError):
    status = 503
    code = "query_crashed"


class Busy(ApiError):
    status = 503
    code = "busy"

    def __init__(self, detail: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(detail, code=code)
        self.headers = {"Retry-After": str(retry_after)}


def error_response(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        status_code=status, content={"error": code, "detail": detail}, headers=headers
    )


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(request: Request) -> list[str]:
    """The methods some route of the app answers on the request's path, sorted. Each is tried
    on the routes, as Starlette's own 405 names only those of the first route that matched the
    path (GET /sparql and POST /sparql are two routes)."""
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = [str(x) for x in err.get("loc", ()) if x not in ("query", "body", "path", "header")]
        field = ".".join(loc) or "request"
        parts.append(f"{field}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "validation_error", _describe_validation(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        headers = dict(exc.headers or {})
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such path: {request.url.path}"
        elif exc.status_code == 405:
            allowed = allowed_methods(request)
            headers["Allow"] = ", ".join(allowed)  # RFC 9110 15.5.6: a 405 must list them
            detail = f"{request.method} is not allowed on {request.url.path}; allowed: " + (
                ", ".join(allowed)
            )
        return error_response(exc.status_code, code, detail, headers or None)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "unexpected error; see the server log")


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        400: "Bad request",
        404: "Not found",
        406: "Not acceptable",
        413: "Request body larger than max_body_bytes",
        422: "Invalid input (the message names the field)",
        503: "Index not ready, or query timed out",
    }.items()
}
