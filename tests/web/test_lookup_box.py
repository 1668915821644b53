"""The concept finder's answers when the ontology has no such concept, in headless Chromium
against `leadgraph serve` (real model)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.model]
TIMEOUT = 120.0  # the first lookup of a served index embeds every label and definition


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def test_finder_says_no_such_concept_for_an_empty_answer(page: Any, server: str) -> None:
    query = "banana bread recipe"
    answer = httpx.get(
        f"{server}/concepts", params={"q": query, "include_candidates": True}, timeout=TIMEOUT
    )
    assert answer.json()["items"] == []
    page.goto("/")
    page.get_by_role("combobox", name="Find a concept").press_sequentially(query)
    note = page.locator("#finder-list .listbox-note")
    _expect()(note).to_contain_text("No such concept")
    assert page.locator('#finder-list [role="option"]').count() == 0


def test_finder_marks_candidate_terms_when_no_concept_matches(page: Any, server: str) -> None:
    labels: list[str] = []
    offset, total = 0, 1
    while offset < total:  # curated concepts come first, candidate terms after them
        page_of = httpx.get(
            f"{server}/concepts",
            params={"include_candidates": True, "limit": 100, "offset": offset},
            timeout=TIMEOUT,
        ).json()
        labels += [item["label"] for item in page_of["items"] if item["candidate"]]
        offset, total = offset + 100, page_of["total"]

    def unmatched(text: str) -> bool:
        body = httpx.get(f"{server}/concepts", params={"q": text}, timeout=TIMEOUT).json()
        return not body["items"] and bool(body["candidates"])

    label = next(text for text in labels if unmatched(text))
    page.goto("/")
    page.get_by_role("combobox", name="Find a concept").press_sequentially(label)
    expect = _expect()
    expect(page.locator('#finder-list [role="option"]').first).to_contain_text(label)
    expect(page.locator("#finder-list .listbox-note")).to_contain_text("No such concept")
