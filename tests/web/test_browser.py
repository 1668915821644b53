"""The concept browser at `/`, driven end to end in headless Chromium against `leadgraph serve`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.model]

QUESTION = "Who is the bridge between leaders and the workforce?"


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def _hash(page: Any) -> str:
    return str(page.evaluate("location.hash"))


def test_page_and_assets_are_served_with_types_and_cache_headers(server: str) -> None:
    page = httpx.get(f"{server}/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["cache-control"] == "no-cache"
    for name, media_type in [
        ("app.js", "text/javascript; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
    ]:
        asset = httpx.get(f"{server}/static/{name}")
        assert asset.status_code == 200, name
        assert asset.headers["content-type"] == media_type
        again = httpx.get(
            f"{server}/static/{name}", headers={"If-None-Match": asset.headers["etag"]}
        )
        assert again.status_code == 304
    missing = httpx.get(f"{server}/static/..%2F..%2Fpyproject.toml")
    assert missing.status_code == 404
    assert set(missing.json()) == {"error", "detail"}
    assert "/" not in httpx.get(f"{server}/openapi.json").json()["paths"]


def test_autocomplete_picks_bridge_role_with_the_keyboard(page: Any) -> None:
    expect = _expect()
    page.goto("/")
    finder = page.get_by_role("combobox", name="Find a concept")
    finder.focus()
    page.keyboard.type("bridg")
    option = page.locator('#finder-list [role="option"][data-id="BridgeRole"]')
    expect(option).to_be_visible()
    expect(finder).to_have_attribute("aria-expanded", "true")

    page.keyboard.press("Escape")
    expect(page.locator("#finder-list")).to_be_hidden()
    expect(finder).to_have_attribute("aria-expanded", "false")

    page.keyboard.press("ArrowDown")
    expect(option).to_be_visible()
    page.keyboard.press("ArrowDown")
    expect(option).to_have_attribute("aria-selected", "true")
    expect(finder).to_have_attribute("aria-activedescendant", option.get_attribute("id"))
    page.keyboard.press("Enter")

    expect(page.locator("h1")).to_have_text("bridge role")
    assert _hash(page) == "#/concept/BridgeRole"
    expect(page.locator("h1")).to_be_focused()


def test_autocomplete_picks_bridge_role_with_a_click(page: Any) -> None:
    expect = _expect()
    page.goto("/")
    page.get_by_role("combobox", name="Find a concept").press_sequentially("bridg")
    page.get_by_role("option", name=re.compile("bridge role")).click()
    expect(page.locator("h1")).to_have_text("bridge role")
    assert _hash(page) == "#/concept/BridgeRole"


def test_concept_view_shows_definition_links_and_evidence(
    page: Any, server: str, screenshots: Path
) -> None:
    expect = _expect()
    concept = httpx.get(f"{server}/concepts/BridgeRole").json()
    page.goto("/#/concept/BridgeRole")
    expect(page.locator(".definition")).to_have_text(concept["definition"])
    expect(page.locator(".alt-labels")).to_contain_text("linking pin")
    broader = page.locator(".concept-side").get_by_role("link", name="organizational role")
    expect(broader).to_have_attribute("href", "#/concept/OrganizationalRole")

    first = concept["evidence"][0]
    card = page.locator(f'.passage-card[data-passage="{first["passage_id"]}"]')
    expect(card.locator(".passage-text")).to_have_text(first["text"])
    expect(card.locator("a.doc-link")).to_have_attribute(
        "href", f"#/document/{first['document_id']}?start={first['start']}&end={first['end']}"
    )
    expect(page.locator("svg.graph a.node")).to_have_count(
        len(httpx.get(f"{server}/concepts/BridgeRole/graph").json()["nodes"]) - 1
    )
    page.screenshot(path=screenshots / "concept-view.png", full_page=True)


def test_concept_view_highlights_mentions_and_marks_candidates(page: Any, server: str) -> None:
    expect = _expect()
    page.goto("/#/concept/Manager")
    mention = page.locator(".passage-card mark.mention").first
    expect(mention).to_have_text(re.compile("^managers?$", re.IGNORECASE))

    # the listing gives the curated concepts first, then the candidates
    curated = httpx.get(f"{server}/concepts", params={"limit": 1}).json()["total"]
    params = {"include_candidates": "true", "limit": 100, "offset": curated}
    candidates = httpx.get(f"{server}/concepts", params=params)
    candidate = next(c for c in candidates.json()["items"] if c["candidate"])
    page.goto(f"/#/concept/{quote(candidate['id'])}")
    expect(page.locator(".concept-head .badge.candidate")).to_contain_text("candidate")
    expect(page.locator(".definition.missing")).to_be_visible()


def test_clicking_a_neighbour_in_the_drawing_opens_it(page: Any) -> None:
    expect = _expect()
    page.goto("/#/concept/BridgeRole")
    neighbour = page.locator('svg.graph a.node[data-id="Manager"]')
    expect(neighbour).to_be_visible()
    expect(page.locator("svg.graph .edge-label").first).to_be_visible()
    neighbour.click()
    expect(page.locator("h1")).to_have_text("manager")
    assert _hash(page) == "#/concept/Manager"
    expect(page.locator('svg.graph .node.focus[data-id="Manager"]')).to_be_visible()


def test_a_citation_opens_the_document_at_the_quote(page: Any, screenshots: Path) -> None:
    expect = _expect()
    page.goto("/#/ask")
    page.get_by_label("Your question").fill(QUESTION)
    page.keyboard.press("Enter")
    expect(page.locator(".answer blockquote")).to_contain_text("bridge between leaders")
    assert _hash(page) == f"#/ask?q={quote(QUESTION, safe='')}"
    citation = page.locator(".citation-link").first
    quoted = citation.get_attribute("data-quote")
    assert quoted and "bridge" in quoted
    page.screenshot(path=screenshots / "ask-view.png", full_page=True)

    citation.click()
    highlight = page.locator("mark.quote")
    expect(highlight.first).to_be_visible()
    assert "".join(highlight.all_text_contents()) == quoted
    expect(highlight.first).to_be_in_viewport()
    assert re.fullmatch(r"#/document/[\w-]+\?start=\d+&end=\d+", _hash(page))
    expect(page.locator(".doc-text a.mention").first).to_be_visible()
    expect(page.locator(".doc-text .passage.current")).to_have_count(1)
    page.screenshot(path=screenshots / "document-view.png")


def test_an_unknown_concept_url_shows_not_found(page: Any) -> None:
    expect = _expect()
    page.goto("/#/concept/NoSuchThing")
    alert = page.get_by_role("alert").filter(has_text="Concept not found")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("NoSuchThing")


def test_search_with_a_concept_filter_and_the_back_button(page: Any, screenshots: Path) -> None:
    expect = _expect()
    page.goto("/#/concept/BridgeRole")
    expect(page.locator("h1")).to_have_text("bridge role")
    page.get_by_role("tab", name=re.compile("Search")).click()
    expect(page.locator("h1")).to_have_text("Search passages")
    expect(page.get_by_role("tab", name=re.compile("Search"))).to_have_attribute(
        "aria-selected", "true"
    )

    page.get_by_label("Words or a question").fill("managers and leaders")
    concept_filter = page.get_by_role("combobox", name="Within concept")
    concept_filter.press_sequentially("bridg")
    expect(page.locator('#search-concept-list [data-id="BridgeRole"]')).to_be_visible()
    concept_filter.press("ArrowDown")
    concept_filter.press("Enter")
    expect(page.locator('.filter-chip[data-id="BridgeRole"]')).to_contain_text("bridge role")
    page.get_by_role("radio", name="Words").check()
    page.get_by_role("button", name="Search", exact=True).click()

    hits = page.locator("#search-results .passage-card")
    expect(hits.first).to_contain_text("bridge between leaders")
    expect(page.locator(".results-summary")).to_contain_text("within bridge role")
    route = _hash(page)
    assert "concept=BridgeRole" in route and "mode=lexical" in route
    page.screenshot(path=screenshots / "search-view.png", full_page=True)

    page.go_back()
    expect(page.locator("h1")).to_have_text("Search passages")
    expect(page.locator("#search-results .passage-card")).to_have_count(0)
    page.go_back()
    expect(page.locator("h1")).to_have_text("bridge role")
    page.go_forward()
    page.go_forward()
    expect(hits.first).to_contain_text("bridge between leaders")


def test_phone_width_has_no_horizontal_scroll(browser: Any, server: str, screenshots: Path) -> None:
    expect = _expect()
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        base_url=server,
    )
    page = context.new_page()
    try:
        views = {
            "/#/": ".concept-card",
            "/#/concept/BridgeRole": "svg.graph",
            "/#/concept/Management?depth=2": "svg.graph",
            f"/#/ask?q={quote(QUESTION)}": ".citation",
            "/#/search?q=vision&mode=hybrid": ".passage-card",
            "/#/document/synergy-of-success": ".passage",
        }
        for url, ready in views.items():
            page.goto(url)
            expect(page.locator(ready).first).to_be_visible()
            width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert width[0] <= width[1], f"{url} scrolls sideways: {width}"
        page.goto("/#/concept/BridgeRole")
        expect(page.locator("svg.graph")).to_be_visible()
        page.screenshot(path=screenshots / "phone-view.png", full_page=True)
    finally:
        context.close()


@pytest.mark.parametrize(
    ("response", "shown"),
    [
        (
            {
                "status": 503,
                "content_type": "application/json",
                "body": json.dumps(
                    {"error": "index_not_ready", "detail": "no index at index; run leadgraph index"}
                ),
            },
            ["The index is not ready yet", "no index at index; run leadgraph index"],
        ),
        (
            {"status": 502, "content_type": "text/html", "body": "<h1>Bad Gateway</h1>"},
            ["The server could not answer (502)"],
        ),
        (None, ["The server cannot be reached"]),
    ],
    ids=["api-error-body", "not-json", "network"],
)
def test_a_failed_request_shows_a_readable_message(
    page: Any, response: dict[str, Any] | None, shown: list[str]
) -> None:
    expect = _expect()

    def fail(route: Any) -> None:
        if response is None:
            route.abort("connectionrefused")
        else:
            route.fulfill(**response)

    page.route(re.compile(r".*/search\?.*"), fail)
    page.goto("/#/search?q=vision")
    alert = page.locator("#search-results").get_by_role("alert")
    for text in shown:
        expect(alert).to_contain_text(text)
    expect(alert.get_by_role("button", name="Try again")).to_be_visible()
    expect(page.get_by_label("Words or a question")).to_have_value("vision")


def test_the_page_loads_nothing_from_other_origins(page: Any, server: str) -> None:
    expect = _expect()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto("/#/concept/BridgeRole")
    expect(page.locator("svg.graph")).to_be_visible()
    foreign = [url for url in requested if not url.startswith(server)]
    assert not foreign
    assert any(url.endswith("/static/app.js") for url in requested)
