"""URIs of everything leadgraph names.

Concept ids are URIs inside the code; short ids only at the API edge.
"""

from __future__ import annotations

from urllib.parse import quote

from rdflib import Namespace

BASE = "https://leadgraph.dev/"
LG = Namespace(BASE + "ontology#")  # ontology terms: classes and object properties
CONCEPT = Namespace(BASE + "concept/")  # curated concepts
CANDIDATE = Namespace(BASE + "candidate/")  # candidate concepts awaiting review
DOC = Namespace(BASE + "doc/")
PASSAGE = Namespace(BASE + "passage/")
MENTION = Namespace(BASE + "mention/")
RUN = Namespace(BASE + "run/")

SCHEME = CONCEPT["scheme"]
CANDIDATE_SCHEME = CANDIDATE["scheme"]


def concept_uri(concept_id: str) -> str:
    return str(CONCEPT[quote(concept_id, safe="")])


def candidate_uri(candidate_id: str) -> str:
    return str(CANDIDATE[quote(candidate_id, safe="")])


def short_id(uri: str) -> str:
    """The API-edge id of a concept or candidate URI: its last path segment."""
    return uri.rstrip("/").rsplit("/", 1)[-1]


def document_uri(document_id: str) -> str:
    return str(DOC[quote(document_id, safe="")])


def passage_uri(passage_id: str) -> str:
    return str(PASSAGE[quote(passage_id, safe="")])
