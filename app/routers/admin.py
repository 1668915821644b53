"""Changing the corpus while serving: PUT and DELETE /documents/{id}, POST /admin/reindex.

Every endpoint needs the admin bearer token (`app.auth`). Each update rewrites the corpus
folder, rebuilds incrementally and publishes a new index version in a worker thread, then serves
it (`app.hotswap`) before answering; searches keep being answered all along.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Request, Response

from ..auth import AdminDep
from ..deps import SettingsDep, StateDep
from ..errors import ErrorBody, IndexNotReady, PayloadTooLarge, UnsupportedMedia
from ..hotswap import reload_published, run_update
from ..schemas import UpdateResult
from ..services.admin import CorpusEditor, UpdateOutcome

MARKDOWN_TYPES = ("text/markdown", "text/x-markdown", "text/plain")

_ERRORS = {
    400: "The front matter names another id than the path (the message gives the line)",
    401: "No bearer token, or a wrong one",
    403: "Admin endpoints are disabled: LEADGRAPH_ADMIN_TOKEN is not set",
    404: "No such document in the corpus folder",
    409: "Another update is running, or the corpus cannot change so (the message says why)",
    413: "Body larger than max_body_bytes, or an article larger than max_article_bytes",
    415: "Body not sent as text/markdown (UTF-8)",
    422: "Invalid document id, or an invalid article (the message names the line)",
    503: "No embedding model loaded, the rebuild failed, or the corpus or index folder "
    "cannot be written (storage_unavailable: read-only, disk full); nothing changed",
}


def _responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: {"model": ErrorBody, "description": _ERRORS[s]} for s in statuses}


router = APIRouter(
    tags=["admin"], dependencies=[AdminDep], responses=_responses(401, 403, 409, 503)
)

DocumentId = Annotated[
    str,
    Path(
        description="document id: letters, digits, '.', '_', '-'; at most 128 characters",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$",
        openapi_examples={"new article": {"value": "servant-leadership"}},
    ),
]

EXAMPLE_ARTICLE = """---
id: servant-leadership
title: Servant Leadership
kind: article
date: 2024-05-01
---
# Servant Leadership

A servant leader puts the growth of the team first. Managers bridge the gap between
leaders and the workforce, turning a vision into plans that people can follow.
"""

_MARKDOWN_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "the article: Markdown with optional YAML front matter (id, title, kind, "
        "date; no anchors or aliases, at most max_front_matter_bytes and "
        "max_front_matter_depth levels), UTF-8, at most max_article_bytes",
        "content": {
            media: {"schema": {"type": "string"}, "example": EXAMPLE_ARTICLE}
            for media in ("text/markdown", "text/plain")
        },
    }
}


def get_editor(request: Request, state: StateDep) -> CorpusEditor:
    if state.embedder is None:
        raise IndexNotReady(state.problem or "the embedding model is not loaded")
    app: FastAPI = request.app
    return CorpusEditor.from_settings(
        state.settings, state.embedder, after_publish=lambda: reload_published(app)
    )


EditorDep = Annotated[CorpusEditor, Depends(get_editor)]


async def read_markdown(
    request: Request, max_bytes: int, limit: str = "max_body_bytes, LEADGRAPH_MAX_BODY_BYTES"
) -> bytes:
    """The request body, refused with 415 unless it is text/markdown (or text/plain) in UTF-8
    and with 413 past `max_bytes` (the setting `limit`), as soon as the body passes it."""
    media, _, params = request.headers.get("content-type", "").partition(";")
    media = media.strip().lower()
    if media not in MARKDOWN_TYPES:
        raise UnsupportedMedia(
            f"content-type: send the article as text/markdown, not {media or 'nothing'}"
        )
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            raise UnsupportedMedia(f"content-type: the charset must be utf-8, not {value.strip()}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise PayloadTooLarge(f"request body: larger than {max_bytes} bytes ({limit})")
    return bytes(body)


def _result(outcome: UpdateOutcome) -> UpdateResult:
    report = outcome.report
    return UpdateResult(
        action=outcome.action,
        document=outcome.document_id,
        version=report.manifest.version,
        previous_version=outcome.previous_version,
        counts=report.manifest.counts,
        embedded=report.embedded,
        reused=report.reused,
        seconds=round(report.seconds, 3),
    )


@router.put(
    "/documents/{document_id}",
    summary="Add or replace an article, then publish the updated index",
    description="Writes the Markdown body to `<corpus>/<document_id>.md` (atomically), re-embeds "
    "only the passages whose text changed, publishes a new index version and serves it before "
    "answering. 201 when the document is new, 200 when it replaced one. The front matter `id`, "
    "when present, must equal `document_id`.\n\n"
    "```sh\ncurl -X PUT http://127.0.0.1:8000/documents/servant-leadership \\\n"
    '  -H "Authorization: Bearer $LEADGRAPH_ADMIN_TOKEN" \\\n'
    "  -H 'Content-Type: text/markdown' --data-binary @servant-leadership.md\n```",
    openapi_extra=_MARKDOWN_BODY,
    responses={
        200: {"description": "Replaced: the document existed"},
        201: {"model": UpdateResult, "description": "Created: a new document"},
        **_responses(400, 413, 415, 422),
    },
)
async def put_document(
    document_id: DocumentId,
    request: Request,
    response: Response,
    editor: EditorDep,
    settings: SettingsDep,
) -> UpdateResult:
    if settings.max_article_bytes < settings.max_body_bytes:
        body = await read_markdown(
            request, settings.max_article_bytes, "max_article_bytes, LEADGRAPH_MAX_ARTICLE_BYTES"
        )
    else:
        body = await read_markdown(request, settings.max_body_bytes)
    outcome = await run_update(settings.update_nice, partial(editor.put, document_id, body))
    if outcome.action == "created":
        response.status_code = 201
    return _result(outcome)


@router.delete(
    "/documents/{document_id}",
    summary="Delete an article, then publish the updated index",
    description="Removes the file holding the document from the corpus folder, rebuilds, "
    "publishes and serves the new index version before answering.\n\n"
    "```sh\ncurl -X DELETE http://127.0.0.1:8000/documents/servant-leadership \\\n"
    '  -H "Authorization: Bearer $LEADGRAPH_ADMIN_TOKEN"\n```',
    responses=_responses(404, 422),
)
async def delete_document(
    document_id: DocumentId, editor: EditorDep, settings: SettingsDep
) -> UpdateResult:
    return _result(await run_update(settings.update_nice, partial(editor.delete, document_id)))


@router.post(
    "/admin/reindex",
    summary="Rebuild the index from the corpus folder and publish it",
    description="For changes made to the corpus folder by other means, or to recover from a "
    "damaged index (this works while /ready answers 503). Only passages whose text changed are "
    "embedded again.\n\n"
    "```sh\ncurl -X POST http://127.0.0.1:8000/admin/reindex \\\n"
    '  -H "Authorization: Bearer $LEADGRAPH_ADMIN_TOKEN"\n```',
)
async def reindex(editor: EditorDep, settings: SettingsDep) -> UpdateResult:
    return _result(await run_update(settings.update_nice, editor.reindex))
