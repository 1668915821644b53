/* leadgraph concept browser: plain JS over the JSON API, no framework, no network beyond this
 * server. Views are hash routes, so every view has a URL and the back button works:
 *   #/                               browse: concepts, documents, candidate concepts
 *   #/concept/ID[?depth=2&evidence=all]
 *   #/search?q=..&mode=..&concept=ID
 *   #/ask?q=..
 *   #/document/ID[?start=..&end=..]  the text, passages and mentions; start..end highlighted
 */
"use strict";

(() => {
  // ---------------------------------------------------------------- DOM helpers

  const SVG_NS = "http://www.w3.org/2000/svg";
  const $ = (selector, root = document) => root.querySelector(selector);
  const enc = encodeURIComponent;

  /** An element: attrs are properties/attributes (on* are listeners), children are appended. */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    setAttrs(el, attrs);
    append(el, children);
    return el;
  }

  function svg(tag, attrs, ...children) {
    const el = document.createElementNS(SVG_NS, tag);
    setAttrs(el, attrs);
    append(el, children);
    return el;
  }

  function setAttrs(el, attrs) {
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else if (key === "text") el.textContent = value;
      else if (key === "dataset") Object.assign(el.dataset, value);
      else el.setAttribute(key, value === true ? "" : String(value));
    }
  }

  function append(el, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : String(child));
    }
  }

  const fmt = (x, digits = 2) => (x === null || x === undefined ? "–" : Number(x).toFixed(digits));
  const plural = (n, one, many = one + "s") => `${n} ${n === 1 ? one : many}`;
  const conceptHref = (id) => `#/concept/${enc(id)}`;
  const documentHref = (id, start, end) =>
    `#/document/${enc(id)}` + (start !== undefined ? `?start=${start}&end=${end}` : "");
  /** True for an absolute http(s) URL: the only sources that become links (no javascript:). */
  const webAddress = (source) => {
    if (typeof source !== "string") return false;
    try {
      const url = new URL(source); // throws for anything relative
      return url.protocol === "http:" || url.protocol === "https:";
    } catch {
      return false;
    }
  };
  /** A link to a document's original article, opened apart from this page; null without one. */
  const originalLink = (source, text) => webAddress(source)
    ? h("a", { class: "original-link", href: source, target: "_blank", rel: "noopener noreferrer", title: source }, text, " ↗")
    : null;

  // ---------------------------------------------------------------- API

  class ApiError extends Error {
    constructor(status, code, detail) {
      super(detail);
      this.status = status;
      this.code = code;
      this.detail = detail;
    }
  }

  /** JSON (or a Blob when `accept` is given) from the API; failures throw ApiError carrying the
   * API's own {"error", "detail"} body. */
  async function api(path, { method = "GET", body, accept, signal } = {}) {
    const headers = { Accept: accept || "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
    } catch (err) {
      if (err.name === "AbortError") throw err;
      throw new ApiError(0, "network_error",
        "The leadgraph server could not be reached. Is it still running (make run)?");
    }
    if (!response.ok) {
      let code = "http_error";
      let detail = `The server answered ${response.status} ${response.statusText}.`.trim();
      try {
        const data = await response.json();
        if (data && typeof data.error === "string") {
          code = data.error;
          if (data.detail) detail = String(data.detail);
        }
      } catch (_) {
        /* not JSON: keep the status line */
      }
      throw new ApiError(response.status, code, detail);
    }
    return accept ? response.blob() : response.json();
  }

  const memo = new Map();
  /** One shared request per key; a failed one is forgotten so the next call retries. */
  function once(key, load) {
    if (!memo.has(key)) {
      memo.set(key, load().catch((err) => {
        memo.delete(key);
        throw err;
      }));
    }
    return memo.get(key);
  }

  const documentsList = () => once("documents", () => api("/documents"));
  async function documentTitles() {
    try {
      const data = await documentsList();
      return new Map(data.items.map((d) => [d.id, d.title]));
    } catch (_) {
      return new Map(); // titles are a nicety: fall back to ids rather than fail the view
    }
  }

  // ---------------------------------------------------------------- messages

  const ERROR_TITLES = {
    concept_not_found: "Concept not found",
    document_not_found: "Document not found",
    index_not_ready: "The index is not ready yet",
    network_error: "The server cannot be reached",
    validation_error: "That request was not accepted",
    query_timeout: "The query took too long",
    not_acceptable: "That format is not available",
  };

  function errorTitle(err) {
    if (ERROR_TITLES[err.code]) return ERROR_TITLES[err.code];
    if (err.status === 404) return "Not found";
    if (err.status >= 500) return `The server could not answer (${err.status})`;
    if (err.status) return `The request failed (${err.status})`;
    return "Something went wrong";
  }

  /** A readable message for a failed request, never a blank area. */
  function errorBox(err, { hint, retry, heading = "h2" } = {}) {
    const detail = err instanceof ApiError ? err.detail : String(err && err.message || err);
    // trying again helps when the server or the network failed, not when the thing is missing
    if (err instanceof ApiError && err.status >= 400 && err.status < 500) retry = null;
    return h("div", { class: "notice error", role: "alert" },
      h(heading, { class: "notice-title", tabindex: heading === "h1" ? "-1" : null, text: errorTitle(err) }),
      h("p", { text: detail }),
      hint ? h("p", { class: "notice-hint" }, hint) : null,
      retry ? h("button", { type: "button", class: "button secondary", onclick: retry }, "Try again") : null);
  }

  /** What to do next after a failed view: for a missing concept, concepts of similar name. */
  function hintFor(err, route) {
    if (err.code === "concept_not_found") {
      const hint = h("span", {}, "Find it with the box above, or ", h("a", { href: "#/", text: "browse all concepts" }), ".");
      const words = (route.arg || "").replace(/([a-z])([A-Z])/g, "$1 $2").replace(/[-_]+/g, " ").trim();
      if (words) {
        api(`/concepts?q=${enc(words)}&limit=5`).then((data) => {
          if (!data.items.length || !hint.isConnected) return;
          hint.append(h("span", { class: "suggestions" }, " Perhaps: ",
            data.items.map((c, i) => [i ? ", " : "", h("a", { href: conceptHref(c.id), text: c.label })]), "?"));
        }).catch(() => {});
      }
      return hint;
    }
    if (err.code === "document_not_found") return h("span", {}, h("a", { href: "#/", text: "Browse the documents" }), ".");
    if (err.code === "index_not_ready") return "Build it with `leadgraph index`, or wait for `leadgraph serve` to finish loading, then try again.";
    return null;
  }

  const loading = (what) => h("p", { class: "loading", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), what);

  function announce(message) {
    const status = $("#status");
    status.textContent = "";
    window.setTimeout(() => { status.textContent = message; }, 30);
  }

  let toastTimer = 0;
  function toast(message, isError = false) {
    const el = $("#toast");
    el.textContent = message;
    el.classList.toggle("error", isError);
    el.hidden = false;
    window.clearTimeout(toastTimer);
    toastTimer = window.setTimeout(() => { el.hidden = true; }, isError ? 8000 : 3000);
  }

  // ---------------------------------------------------------------- highlighting

  /** The API's offsets count code points (Python string indices), JS strings count UTF-16
   * units: slice an array of code points instead, so text after an emoji stays aligned. */
  const codePoints = (text) => Array.from(text);
  const cut = (chars, from, to) => chars.slice(from, to).join("");

  /** Append chars[a:b] (document offsets; chars starts at `base`) to `parent`, wrapping each
   * mention span (sorted, overlaps dropped) with `wrap(mention, surface)`. */
  function appendWithMentions(parent, chars, base, a, b, mentions, wrap) {
    let pos = a;
    for (const m of mentions) {
      const s = Math.max(m.start, a);
      const e = Math.min(m.end, b);
      if (e <= s || s < pos) continue;
      if (s > pos) parent.append(cut(chars, pos - base, s - base));
      parent.append(wrap(m, cut(chars, s - base, e - base)));
      pos = e;
    }
    if (pos < b) parent.append(cut(chars, pos - base, b - base));
  }

  /** chars[a:b] with mentions marked and, where it overlaps [hl.start, hl.end), one mark.quote. */
  function markedText(chars, base, a, b, mentions, wrap, hl) {
    const frag = document.createDocumentFragment();
    const cuts = hl && hl.start < b && hl.end > a
      ? [[a, Math.max(a, hl.start), false], [Math.max(a, hl.start), Math.min(b, hl.end), true],
         [Math.min(b, hl.end), b, false]]
      : [[a, b, false]];
    for (const [from, to, isQuote] of cuts) {
      if (from >= to) continue;
      if (isQuote) {
        const mark = h("mark", { class: "quote" });
        appendWithMentions(mark, chars, base, from, to, mentions, wrap);
        frag.append(mark);
      } else {
        appendWithMentions(frag, chars, base, from, to, mentions, wrap);
      }
    }
    return frag;
  }

  /** Words of the query, for a light highlight of search hits. */
  function queryStems(q) {
    return q.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((w) => w.length >= 4)
      .map((w) => w.slice(0, Math.max(4, w.length - 2)));
  }

  function highlightWords(text, stems) {
    if (!stems.length) return document.createTextNode(text);
    const frag = document.createDocumentFragment();
    const re = /[\p{L}\p{N}][\p{L}\p{N}'’-]*/gu;
    let pos = 0;
    for (const match of text.matchAll(re)) {
      const word = match[0].toLowerCase();
      if (!stems.some((s) => word.startsWith(s))) continue;
      frag.append(text.slice(pos, match.index), h("mark", { class: "term", text: match[0] }));
      pos = match.index + match[0].length;
    }
    frag.append(text.slice(pos));
    return frag;
  }

  /** The label with the typed prefix (or substring) emphasised. */
  function emphasise(label, q) {
    const i = label.toLowerCase().indexOf(q.toLowerCase());
    if (!q || i < 0) return label;
    return [label.slice(0, i), h("strong", { text: label.slice(i, i + q.length) }), label.slice(i + q.length)];
  }

  // ---------------------------------------------------------------- combobox (ARIA 1.2)

  /** Concept autocomplete on `input` + `list`: arrow keys move, Enter picks, Escape closes. */
  function conceptCombobox(input, list, onPick, { candidates = true } = {}) {
    let items = [];
    let pointer = []; // candidate terms matching the query, listed or not (ConceptList.candidates)
    let active = -1;
    let seq = 0;
    let timer = 0;
    let lastQuery = "";

    const open = () => { list.hidden = false; input.setAttribute("aria-expanded", "true"); };
    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function setActive(i) {
      active = i;
      list.querySelectorAll('[role="option"]').forEach((li, j) => li.setAttribute("aria-selected", String(j === i)));
      if (i >= 0 && list.children[i]) {
        input.setAttribute("aria-activedescendant", list.children[i].id);
        list.children[i].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function drawMessage(text, isError) {
      items = [];
      list.replaceChildren(h("li", { class: isError ? "listbox-note error" : "listbox-note", role: "presentation", text }));
      open();
    }

    /** An empty answer: the ontology has no such concept; point to candidate terms if any. */
    function drawNothing(q) {
      items = [];
      const note = h("li", { class: "listbox-note", role: "presentation" }, `No such concept: “${q}” names no concept of the ontology.`);
      if (pointer.length) {
        note.append(" Candidate terms mined from the corpus match it: ",
          pointer.map((c, i) => [i ? ", " : "", h("a", { href: conceptHref(c.id), text: c.label, onmousedown: (e) => e.preventDefault(), onclick: () => close() })]), ".");
      }
      list.replaceChildren(note);
      open();
    }

    function draw(q) {
      if (!items.length) return drawNothing(q);
      const onlyCandidates = items.every((c) => c.candidate);
      list.replaceChildren(...items.map((c, i) => {
        const altHit = !c.label.toLowerCase().includes(q.toLowerCase())
          && c.alt_labels.find((a) => a.toLowerCase().includes(q.toLowerCase()));
        return h("li", {
          id: `${list.id}-${i}`, role: "option", "aria-selected": "false", dataset: { id: c.id },
          "aria-label": `${c.label}${c.candidate ? " (candidate)" : ""}${altHit ? `, also ${altHit}` : ""}`,
          onmousedown: (e) => e.preventDefault(), // keep focus in the input
          onclick: () => pick(i),
        },
        h("span", { class: "option-label" }, emphasise(c.label, q),
          c.candidate ? h("span", { class: "badge candidate", text: "candidate" }) : null),
        h("span", { class: "option-note" },
          altHit ? ["also “", emphasise(altHit, q), "”"] : c.definition || "mined from the corpus, not yet curated"));
      }));
      // after the options, so that option i stays list.children[i]
      if (onlyCandidates) list.append(h("li", { class: "listbox-note", role: "presentation", text: "No such concept in the ontology: these are candidate terms mined from the corpus, not yet curated." }));
      open();
      setActive(-1);
    }

    async function update() {
      const q = input.value.trim();
      const mine = ++seq;
      if (!q) { items = []; lastQuery = ""; close(); return; }
      try {
        const data = await api(`/concepts?q=${enc(q)}&limit=8&include_candidates=${candidates}`);
        if (mine !== seq) return;
        items = data.items;
        pointer = data.candidates || [];
        lastQuery = q;
        draw(q);
      } catch (err) {
        if (mine !== seq) return;
        drawMessage(`${errorTitle(err)}: ${err.detail || err.message}`, true);
      }
    }

    function pick(i) {
      const concept = items[i];
      if (!concept) return;
      close();
      onPick(concept);
    }

    input.addEventListener("input", () => {
      window.clearTimeout(timer);
      timer = window.setTimeout(update, 110);
    });
    input.addEventListener("keydown", async (e) => {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        if (list.hidden) {
          if (input.value.trim()) { await update(); }
          return;
        }
        if (!items.length) return;
        const step = e.key === "ArrowDown" ? 1 : -1;
        setActive((active + step + items.length + (active < 0 && step < 0 ? 1 : 0)) % items.length);
      } else if (e.key === "Enter") {
        e.preventDefault();
        window.clearTimeout(timer);
        if (!list.hidden && active >= 0 && lastQuery === input.value.trim()) return pick(active);
        if (lastQuery !== input.value.trim() || !items.length) await update();
        if (items.length) pick(0);
      } else if (e.key === "Escape") {
        if (!list.hidden) { e.preventDefault(); close(); }
        else if (input.value) { e.preventDefault(); input.value = ""; }
      } else if (e.key === "Tab") {
        close();
      }
    });
    input.addEventListener("blur", () => window.setTimeout(close, 120));
    input.addEventListener("focus", () => { if (items.length && input.value.trim() === lastQuery) open(); });
    return { close };
  }

  // ---------------------------------------------------------------- router

  function parseRoute() {
    const raw = location.hash.replace(/^#/, "") || "/";
    const cut = raw.indexOf("?");
    const path = cut < 0 ? raw : raw.slice(0, cut);
    const params = new URLSearchParams(cut < 0 ? "" : raw.slice(cut + 1));
    const parts = path.split("/").filter(Boolean).map((p) => {
      try { return decodeURIComponent(p); } catch (_) { return p; }
    });
    return { name: parts[0] || "home", arg: parts[1], params };
  }

  const main = () => $("#main");
  let renderSeq = 0;
  let controller = null;
  let focusAfterRender = false;
  let navigations = 0; // hash changes since the page loaded: 0 means a deep link was opened

  const TAB_OF = { home: "browse", concept: "browse", document: "browse", search: "search", ask: "ask" };

  function setTabs(route) {
    const current = TAB_OF[route.name] || "browse";
    for (const tab of document.querySelectorAll('[role="tab"]')) {
      const selected = tab.dataset.tab === current;
      tab.setAttribute("aria-selected", String(selected));
      tab.tabIndex = selected ? 0 : -1;
      if (selected) main().setAttribute("aria-labelledby", tab.id);
    }
  }

  async function render() {
    const seq = ++renderSeq;
    if (controller) controller.abort();
    controller = new AbortController();
    const route = parseRoute();
    setTabs(route);
    const ctx = { route, signal: controller.signal, stale: () => seq !== renderSeq, navigated: navigations > 0 };
    const view = VIEWS[route.name] || unknownView;
    main().setAttribute("aria-busy", "true");
    try {
      await view(route, ctx);
    } catch (err) {
      if (err.name === "AbortError" || ctx.stale()) return;
      show(ctx, errorBox(err, { retry: render, heading: "h1", hint: hintFor(err, route) }));
      settle(ctx, errorTitle(err));
    } finally {
      if (!ctx.stale()) main().setAttribute("aria-busy", "false");
    }
  }

  /** Replace the view's content, unless a newer navigation has started. */
  function show(ctx, ...nodes) {
    if (ctx.stale()) return false;
    const el = main();
    el.dataset.view = ctx.route.name;
    el.replaceChildren(...nodes);
    return true;
  }

  /** After a navigation: page top, focus on the view's heading (or `target`) for keyboard users. */
  function settle(ctx, title, target) {
    if (ctx.stale()) return;
    document.title = `${title} · leadgraph`;
    announce(title);
    const active = document.activeElement;
    const lost = !active || active === document.body || !active.isConnected;
    if (target) {
      target.scrollIntoView({ block: "center" });
      target.focus({ preventScroll: true });
    } else if (focusAfterRender || lost) {
      window.scrollTo(0, 0);
      const heading = $("h1", main());
      if (heading && (focusAfterRender || lost) && ctx.navigated) heading.focus({ preventScroll: true });
    }
    focusAfterRender = false;
  }

  const go = (hash) => {
    if (location.hash === hash) render();
    else location.hash = hash;
  };

  // ---------------------------------------------------------------- browse (home)

  async function homeView(route, ctx) {
    show(ctx, loading("Loading the concept scheme…"));
    const [concepts, withCandidates, documents, ready] = await Promise.all([
      api("/concepts?limit=100", { signal: ctx.signal }),
      api("/concepts?limit=100&include_candidates=true", { signal: ctx.signal }).catch(() => null),
      documentsList(),
      api("/ready", { signal: ctx.signal }).catch(() => null),
    ]);
    const counts = ready && ready.index && ready.index.counts;
    const candidates = withCandidates ? withCandidates.items.filter((c) => c.candidate) : [];
    show(ctx,
      h("section", { class: "hero" },
        h("h1", { tabindex: "-1", text: "Leadership & management, as a graph" }),
        h("p", { class: "lead" },
          "Look up a concept to see how it is defined, what it connects to and where the corpus speaks of it. ",
          "Search passages by meaning, or ask a question and get answers quoted from the sources."),
        counts ? h("ul", { class: "stats", "aria-label": "Index" },
          h("li", {}, h("strong", { text: counts.concepts }), " concepts"),
          h("li", {}, h("strong", { text: counts.documents }), " documents"),
          h("li", {}, h("strong", { text: counts.passages }), " passages"),
          h("li", {}, h("strong", { text: counts.candidate_concepts }), " candidate terms")) : null),
      h("section", { class: "section" },
        h("h2", { text: "Concepts" }),
        h("ul", { class: "concept-grid-list" }, concepts.items.map((c) =>
          h("li", {}, h("a", { class: "concept-card", href: conceptHref(c.id) },
            h("span", { class: "card-title", text: c.label }),
            h("span", { class: "card-text", text: c.definition }))))),
        concepts.total > concepts.items.length
          ? h("p", { class: "muted", text: `Showing ${concepts.items.length} of ${concepts.total}; use the finder above for the rest.` })
          : null),
      h("section", { class: "section" },
        h("h2", { text: "Documents" }),
        h("ul", { class: "doc-list" }, documents.items.map((d) =>
          h("li", {}, h("a", { href: documentHref(d.id), text: d.title }),
            h("span", { class: "muted" }, ` · ${d.kind}${d.date ? " · " + d.date : ""} · ${plural(d.passage_count, "passage")}`))))),
      candidates.length ? h("section", { class: "section" },
        h("h2", { text: "Candidate concepts" }),
        h("p", { class: "muted", text: "Terms mined from the corpus that match no curated concept yet: material for curators." }),
        h("ul", { class: "chips" }, candidates.map((c) =>
          h("li", {}, h("a", { class: "chip candidate", href: conceptHref(c.id), text: c.label }))))) : null);
    settle(ctx, "Browse");
  }

  // ---------------------------------------------------------------- concept

  const chipList = (refs, cls = "") => h("ul", { class: "chips" },
    refs.map((r) => h("li", {}, h("a", { class: `chip ${cls}`.trim(), href: conceptHref(r.id), text: r.label }))));

  function relationGroups(relations) {
    const groups = new Map();
    for (const r of relations) {
      if (!groups.has(r.label)) groups.set(r.label, []);
      groups.get(r.label).push(r);
    }
    return groups;
  }

  function linksPanel(c, titles) {
    const blocks = [];
    const block = (title, ...body) => blocks.push(h("section", { class: "side-block" }, h("h3", { text: title }), body));
    if (c.broader.length) block("Broader", chipList(c.broader));
    if (c.narrower.length) block("Narrower", chipList(c.narrower));
    if (c.related.length) block("Related", chipList(c.related));
    if (c.relations.length) {
      block("Typed relations", h("dl", { class: "relations" }, [...relationGroups(c.relations)].map(([label, rels]) => [
        h("dt", {}, h("span", { class: "subject", text: c.label }), " ", h("span", { class: "predicate", text: label })),
        rels.map((r) => h("dd", {},
          h("a", { class: "chip", href: conceptHref(r.target.id), text: r.target.label }),
          r.evidence.length ? h("ul", { class: "quotes" }, r.evidence.slice(0, 2).map((q) =>
            h("li", {}, h("a", { href: documentHref(q.document_id, q.start, q.end), title: `Open “${titles.get(q.document_id) || q.document_id}” at this sentence` },
              "“", q.quote, "”")))) : null)),
      ])));
    }
    if (c.cooccurring.length) {
      const top = Math.max(...c.cooccurring.map((x) => x.npmi), 0.01);
      block("Co-occurring",
        h("p", { class: "side-note", text: "Concepts mentioned in the same passages, by NPMI weight." }),
        h("ul", { class: "weights" }, c.cooccurring.map((x) => h("li", {},
          h("a", { href: conceptHref(x.id), text: x.label }),
          h("span", { class: "weight-bar", "aria-hidden": "true" }, h("span", { style: `width:${Math.max(4, (100 * Math.max(0, x.npmi)) / top).toFixed(0)}%` })),
          h("span", { class: "num", title: `NPMI ${fmt(x.npmi, 3)}; ${plural(x.count, "passage")} mention both` }, fmt(x.npmi), h("small", { text: ` · ${x.count}` }))))));
    }
    if (!blocks.length) blocks.push(h("p", { class: "muted", text: "No links to other concepts yet." }));
    return blocks;
  }

  function evidenceList(c, titles) {
    if (!c.evidence.length) return h("p", { class: "muted", text: "No passage of the corpus mentions this concept." });
    return h("ol", { class: "passages" }, c.evidence.map((ev) => {
      const title = titles.get(ev.document_id) || ev.document_id;
      const text = h("p", { class: "passage-text" });
      text.append(markedText(codePoints(ev.text), ev.start, ev.start, ev.end, ev.mentions,
        (m, surface) => h("mark", { class: "mention", text: surface })));
      return h("li", { class: "passage-card", dataset: { passage: ev.passage_id } },
        text,
        h("p", { class: "passage-meta" },
          h("a", { class: "doc-link", href: documentHref(ev.document_id, ev.start, ev.end) }, title),
          h("span", { class: `badge ${ev.method}`, title: ev.method === "lexical" ? "a label occurs in the passage" : "the passage is close in meaning" },
            ev.method === "lexical" ? "label match" : "meaning match"),
          h("span", { class: "muted", text: `score ${fmt(ev.score)}` })));
    }));
  }

  async function conceptView(route, ctx) {
    const id = route.arg || "";
    const all = route.params.get("evidence") === "all";
    const depth = route.params.get("depth") === "2" ? 2 : 1;
    show(ctx, loading("Loading concept…"));
    const [c, titles] = await Promise.all([
      api(`/concepts/${enc(id)}?evidence_limit=${all ? 100 : 10}`, { signal: ctx.signal }),
      documentTitles(),
    ]);
    const graphBox = h("div", { class: "graph-box" }, loading("Drawing the neighbourhood…"));
    const depthLink = (d, label) => h("a", {
      class: "seg", href: `${conceptHref(c.id)}${d === 2 ? "?depth=2" : ""}`,
      "aria-current": d === depth ? "true" : null,
    }, label);
    show(ctx, h("article", { class: "concept" },
      h("header", { class: "concept-head" },
        h("p", { class: "eyebrow" }, c.candidate ? "Candidate concept" : "Concept",
          c.candidate ? h("span", { class: "badge candidate", title: "a term mined from the corpus, not yet curated", text: "candidate · not yet curated" }) : null),
        h("h1", { tabindex: "-1", text: c.label }),
        c.alt_labels.length ? h("p", { class: "alt-labels" }, h("span", { class: "muted", text: "Also: " }),
          c.alt_labels.map((a, i) => [i ? h("span", { class: "sep", "aria-hidden": "true", text: " · " }) : null, h("span", { class: "alt", text: a })])) : null,
        c.definition
          ? h("p", { class: "definition", text: c.definition })
          : h("p", { class: "definition missing", text: "No definition yet: this term was mined from the corpus and awaits a curator." }),
        h("p", { class: "actions" },
          h("a", { class: "button", href: `#/search?concept=${enc(c.id)}` }, "Search its passages"),
          h("span", { class: "downloads" }, "Download ",
            h("button", { type: "button", class: "linklike", onclick: () => download(`/concepts/${enc(c.id)}`, "turtle", `${c.id}.ttl`) }, "Turtle"),
            " · ",
            h("button", { type: "button", class: "linklike", onclick: () => download(`/concepts/${enc(c.id)}`, "jsonld", `${c.id}.jsonld`) }, "JSON-LD")),
          h("code", { class: "uri", title: "the concept's URI", text: c.uri }))),
      h("div", { class: "concept-layout" },
        h("div", { class: "concept-main" },
          h("section", { class: "panel" },
            h("div", { class: "panel-head" },
              h("h2", { text: "Neighbourhood" }),
              h("nav", { class: "segmented", "aria-label": "Neighbourhood depth" }, depthLink(1, "1 hop"), depthLink(2, "2 hops"))),
            graphBox),
          h("section", { class: "panel" },
            h("div", { class: "panel-head" },
              h("h2", {}, "Evidence ", h("span", { class: "count", text: c.evidence_total })),
              c.evidence_total > c.evidence.length && !all
                ? h("a", { href: `${conceptHref(c.id)}?evidence=all${depth === 2 ? "&depth=2" : ""}` }, `Show all ${c.evidence_total}`)
                : null),
            evidenceList(c, titles))),
        h("aside", { class: "concept-side", "aria-label": "Links to other concepts" }, linksPanel(c, titles)))));
    settle(ctx, c.label);
    try {
      const graph = await api(`/concepts/${enc(c.id)}/graph?depth=${depth}`, { signal: ctx.signal });
      if (ctx.stale()) return;
      graphBox.replaceChildren(drawGraph(graph, c, graphBox.clientWidth < 560), graphLegend(graph));
    } catch (err) {
      if (err.name === "AbortError" || ctx.stale()) return;
      graphBox.replaceChildren(errorBox(err));
    }
  }

  // ---------------------------------------------------------------- neighbourhood drawing (SVG)

  const KIND_RANK = { relation: 0, hierarchy: 1, related: 2, cooccurs: 3 };
  const EDGE_NAMES = { hierarchy: "broader / narrower", related: "related", relation: "typed relation", cooccurs: "co-occurs (width: NPMI)" };

  /** Edges grouped per unordered node pair: one line per pair, labelled with its predicates. */
  function edgePairs(edges) {
    const pairs = new Map();
    for (const e of edges) {
      const key = [e.source, e.target].sort().join("\u0000");
      if (!pairs.has(key)) pairs.set(key, { a: e.source, b: e.target, edges: [] });
      pairs.get(key).edges.push(e);
    }
    for (const p of pairs.values()) {
      p.edges.sort((x, y) => KIND_RANK[x.kind] - KIND_RANK[y.kind]);
      p.kind = p.edges[0].kind;
      const named = [...new Set(p.edges.filter((e) => e.kind !== "cooccurs").map((e) => e.label))];
      const co = p.edges.find((e) => e.kind === "cooccurs");
      p.label = named.length ? named.concat(co ? ["co-occurs"] : []).join(" · ") : co ? co.label : "";
      p.weight = co ? co.weight : null;
      p.forward = p.edges.some((e) => e.source === p.a && (e.kind === "relation" || e.kind === "hierarchy"));
      p.backward = p.edges.some((e) => e.source === p.b && (e.kind === "relation" || e.kind === "hierarchy"));
      p.title = p.edges.map((e) => `${e.source} ${e.label} ${e.target}${e.weight !== null && e.weight !== undefined ? ` (NPMI ${fmt(e.weight, 3)})` : ""}`).join("\n");
    }
    return [...pairs.values()];
  }

  /** Two lines of at most ~18 characters, broken at a space. */
  function wrapLabel(label) {
    if (label.length <= 18) return [label];
    const words = label.split(" ");
    let first = "";
    while (words.length && (first + " " + words[0]).trim().length <= Math.max(18, Math.ceil(label.length / 2))) {
      first = (first + " " + words.shift()).trim();
    }
    if (!first) first = words.shift();
    const rest = words.join(" ");
    return rest ? [first, rest.length > 22 ? rest.slice(0, 21) + "…" : rest] : [first];
  }

  /** Radial positions: the focus in the middle, its neighbours on an ellipse (broader on top,
   * then typed relations, related, co-occurring, narrower at the bottom), and two-hop concepts on
   * an outer ellipse in the order of their parents, so most edges point outwards. */
  function layout(graph, focusId, W, H) {
    const cx = W / 2;
    const cy = H / 2;
    const nodes = graph.nodes.map((n) => ({ ...n, x: cx, y: cy }));
    const byId = new Map(nodes.map((n) => [n.id, n]));
    const links = (n, other) => graph.edges.filter((e) => (e.source === n.id && e.target === other) || (e.target === n.id && e.source === other));
    const order = (n) => {
      const es = links(n, focusId);
      if (es.some((e) => e.predicate === "broader" && e.source === focusId)) return 0;
      if (es.some((e) => e.predicate === "broader" && e.target === focusId)) return 4;
      if (es.some((e) => e.kind === "relation")) return 1;
      if (es.some((e) => e.kind === "related")) return 2;
      return 3;
    };
    const ring1 = nodes.filter((n) => n.depth === 1);
    const ring2 = nodes.filter((n) => n.depth >= 2);
    ring1.sort((a, b) => order(a) - order(b) || a.label.localeCompare(b.label));
    const [r1x, r1y] = ring2.length ? [W * 0.23, H * 0.25] : [Math.min(W * 0.36, 300), H * 0.36];
    const step1 = (2 * Math.PI) / Math.max(ring1.length, 1);
    const broaderCount = ring1.filter((n) => order(n) === 0).length;
    const start = -Math.PI / 2 - ((Math.max(broaderCount, 1) - 1) / 2) * step1;
    const angleOf = new Map();
    ring1.forEach((n, i) => {
      const angle = start + i * step1;
      angleOf.set(n.id, angle);
      n.x = cx + r1x * Math.cos(angle);
      n.y = cy + r1y * Math.sin(angle);
    });
    if (ring2.length) {
      const parentAngle = new Map(ring2.map((n) => {
        const parent = ring1.find((p) => links(n, p.id).length);
        return [n.id, parent ? angleOf.get(parent.id) - start : 0];
      }));
      ring2.sort((a, b) => parentAngle.get(a.id) - parentAngle.get(b.id) || a.label.localeCompare(b.label));
      const step2 = (2 * Math.PI) / ring2.length;
      // rotate the outer ring so that, on average, each node sits near its parent
      let sx = 0;
      let sy = 0;
      ring2.forEach((n, i) => {
        sx += Math.cos(parentAngle.get(n.id) - i * step2);
        sy += Math.sin(parentAngle.get(n.id) - i * step2);
      });
      const offset = start + Math.atan2(sy, sx);
      ring2.forEach((n, i) => {
        const angle = offset + i * step2;
        n.x = cx + W * 0.42 * Math.cos(angle);
        n.y = cy + H * 0.43 * Math.sin(angle);
      });
    }
    return byId;
  }

  function drawGraph(graph, concept, narrow) {
    const big = graph.nodes.some((n) => n.depth >= 2);
    // a narrow screen gets a narrower, taller drawing so that its labels stay legible
    const W = narrow ? (big ? 520 : 400) : big ? 1000 : 760;
    const H = narrow ? (big ? 720 : 500) : big ? 680 : 470;
    const pos = layout(graph, concept.id, W, H);
    const radius = (n) => (n.kind === "focus" ? 13 : n.depth >= 2 ? 6 : 8);
    const root = svg("svg", {
      class: "graph", viewBox: `0 0 ${W} ${H}`, role: "group",
      "aria-label": `Neighbourhood of ${concept.label}: ${plural(graph.nodes.length - 1, "concept")}. Select a concept to open it.`,
    });
    const defs = svg("defs", {});
    for (const kind of Object.keys(KIND_RANK)) {
      defs.append(svg("marker", { id: `arrow-${kind}`, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
        svg("path", { d: "M0,1 L9,5 L0,9 z", class: `arrow ${kind}` })));
    }
    root.append(defs);

    const edgeLayer = svg("g", { class: "edges" });
    const labelLayer = svg("g", { class: "edge-labels", "aria-hidden": "true" });
    for (const p of edgePairs(graph.edges)) {
      const a = pos.get(p.a);
      const b = pos.get(p.b);
      if (!a || !b) continue;
      const dx = b.x - a.x;
      const dy = b.y - a.y;
      const d = Math.max(1, Math.hypot(dx, dy));
      const ux = dx / d;
      const uy = dy / d;
      const x1 = a.x + ux * (radius(a) + 3);
      const y1 = a.y + uy * (radius(a) + 3);
      const x2 = b.x - ux * (radius(b) + 3);
      const y2 = b.y - uy * (radius(b) + 3);
      const width = p.kind === "cooccurs" && p.weight !== null ? 1 + 3 * Math.max(0, p.weight) : null;
      edgeLayer.append(svg("line", {
        x1: x1.toFixed(1), y1: y1.toFixed(1), x2: x2.toFixed(1), y2: y2.toFixed(1),
        class: `edge ${p.kind}${p.a === concept.id || p.b === concept.id ? "" : " outer"}`, style: width ? `stroke-width:${width.toFixed(1)}` : null,
        "marker-end": p.forward ? `url(#arrow-${p.kind})` : null,
        "marker-start": p.backward ? `url(#arrow-${p.kind})` : null,
        dataset: { source: p.a, target: p.b },
      }, svg("title", { text: p.title })));
      // with two rings, only the focus's own edges are labelled: the rest would be noise
      if (!p.label || (big && p.a !== concept.id && p.b !== concept.id)) continue;
      let angle = (Math.atan2(dy, dx) * 180) / Math.PI;
      if (angle > 90 || angle < -90) angle += 180;
      const mx = (x1 + x2) / 2;
      const my = (y1 + y2) / 2;
      labelLayer.append(svg("text", {
        class: `edge-label ${p.kind}`, x: mx.toFixed(1), y: my.toFixed(1), dy: "-4",
        transform: `rotate(${angle.toFixed(1)} ${mx.toFixed(1)} ${my.toFixed(1)})`,
        "text-anchor": "middle", text: p.label,
      }));
    }
    const nodeLayer = svg("g", { class: "nodes" });
    const nodes = [...pos.values()].sort((x, y) => y.depth - x.depth);
    for (const n of nodes) {
      const lines = wrapLabel(n.label);
      const r = radius(n);
      // labels go outside the ring: above the nodes of the upper half, below the others
      const above = n.kind !== "focus" && n.y < H / 2 - 20;
      const y = above ? n.y - r - 8 - (lines.length - 1) * 13.5 : n.y + r + 15;
      const label = svg("text", { class: "node-label", x: n.x.toFixed(1), y: y.toFixed(1), "text-anchor": "middle" },
        lines.map((line, i) => svg("tspan", { x: n.x.toFixed(1), dy: i ? "1.15em" : "0", text: line })));
      const shape = [svg("circle", { cx: n.x.toFixed(1), cy: n.y.toFixed(1), r: r + 10, class: "hit" }),
        svg("circle", { cx: n.x.toFixed(1), cy: n.y.toFixed(1), r, class: "dot" }), label];
      if (n.kind === "focus") {
        nodeLayer.append(svg("g", { class: "node focus", dataset: { id: n.id } }, shape));
      } else {
        nodeLayer.append(svg("a", {
          href: conceptHref(n.id), class: `node ${n.kind} depth-${n.depth}`, dataset: { id: n.id },
          "aria-label": `${n.label}${n.kind === "candidate" ? " (candidate)" : ""}`,
        }, svg("title", { text: `Open ${n.label}` }), shape));
      }
    }
    root.append(edgeLayer, labelLayer, nodeLayer);
    return root;
  }

  function graphLegend(graph) {
    const kinds = [...new Set(graph.edges.map((e) => e.kind))].sort((a, b) => KIND_RANK[a] - KIND_RANK[b]);
    if (!kinds.length) return h("p", { class: "muted graph-empty", text: "No links to other concepts yet." });
    return h("ul", { class: "legend", "aria-label": "Edge kinds" }, kinds.map((k) =>
      h("li", {}, h("span", { class: `swatch ${k}`, "aria-hidden": "true" }), EDGE_NAMES[k])),
      graph.nodes.some((n) => n.kind === "candidate") ? h("li", {}, h("span", { class: "swatch node-candidate", "aria-hidden": "true" }), "candidate concept") : null);
  }

  // ---------------------------------------------------------------- search

  async function searchView(route, ctx) {
    const q = route.params.get("q") || "";
    const mode = ["hybrid", "dense", "lexical"].includes(route.params.get("mode")) ? route.params.get("mode") : "hybrid";
    const conceptId = route.params.get("concept") || "";
    const results = h("div", { id: "search-results", class: "results" });
    let chosen = conceptId ? { id: conceptId, label: conceptId } : null;

    const conceptInput = h("input", {
      id: "search-concept", type: "search", placeholder: "Any concept", spellcheck: "false", autocomplete: "off",
      role: "combobox", "aria-autocomplete": "list", "aria-expanded": "false", "aria-controls": "search-concept-list",
    });
    const conceptList = h("ul", { id: "search-concept-list", class: "listbox", role: "listbox", "aria-label": "Concepts", hidden: true });
    const chip = h("span", { class: "filter-chip-slot" });
    const drawChip = () => {
      chip.replaceChildren();
      conceptInput.hidden = !!chosen;
      if (!chosen) return;
      chip.append(h("span", { class: "filter-chip", dataset: { id: chosen.id } },
        h("span", { text: chosen.label }),
        h("button", { type: "button", class: "chip-remove", "aria-label": `Remove concept filter ${chosen.label}`,
          onclick: () => { chosen = null; drawChip(); conceptInput.focus(); } }, "×")));
    };
    const qInput = h("input", { id: "search-q", name: "q", type: "search", value: q, required: true,
      placeholder: "e.g. who connects leaders and staff", spellcheck: "false" });
    const modes = h("div", { class: "radio-group", role: "radiogroup", "aria-labelledby": "search-mode-label" },
      ["hybrid", "dense", "lexical"].map((m) => h("label", { class: "radio" },
        h("input", { type: "radio", name: "mode", value: m, checked: m === mode }),
        h("span", { text: { hybrid: "Hybrid", dense: "Meaning", lexical: "Words" }[m] }))));
    const form = h("form", { id: "search-form", class: "query-form", role: "search",
      onsubmit: (e) => {
        e.preventDefault();
        const value = qInput.value.trim();
        if (!value) { qInput.focus(); return; }
        const params = new URLSearchParams({ q: value, mode: form.elements.mode.value });
        if (chosen) params.set("concept", chosen.id);
        go(`#/search?${params}`);
      } },
    h("div", { class: "field grow" }, h("label", { for: "search-q", text: "Words or a question" }), qInput),
    h("div", { class: "field" }, h("span", { class: "label", id: "search-mode-label", text: "Mode" }), modes),
    h("div", { class: "field" }, h("label", { for: "search-concept", text: "Within concept" }),
      h("div", { class: "combo" }, chip, conceptInput, conceptList)),
    h("div", { class: "field end" }, h("button", { class: "button", type: "submit", text: "Search" })));

    show(ctx, h("section", {},
      h("h1", { tabindex: "-1", text: "Search passages" }),
      h("p", { class: "lead small", text: "Hybrid search fuses meaning (embeddings) and words (BM25), and favours passages about the concepts of your query." }),
      form, results));
    drawChip();
    conceptCombobox(conceptInput, conceptList, (c) => { chosen = c; drawChip(); qInput.focus(); });

    // the filter's label; the results summary waits for it, so it never shows the bare id
    const labelled = conceptId
      ? api(`/concepts/${enc(conceptId)}`, { signal: ctx.signal })
        .then((c) => { if (chosen && chosen.id === c.id) { chosen = { id: c.id, label: c.label }; drawChip(); } })
        .catch(() => {})
      : Promise.resolve();
    if (!q) {
      results.append(h("p", { class: "muted", text: chosen ? "Type a query to search the passages of this concept." : "Type a query to search all passages." }));
      settle(ctx, "Search passages");
      if (ctx.navigated) qInput.focus();
      return;
    }
    results.append(loading("Searching…"));
    settle(ctx, `Search: ${q}`);
    const params = new URLSearchParams({ q, mode, k: "10" });
    if (conceptId) params.set("concept", conceptId);
    try {
      const [data, titles] = await Promise.all([api(`/search?${params}`, { signal: ctx.signal }), documentTitles(), labelled]);
      if (ctx.stale()) return;
      const stems = queryStems(q);
      results.replaceChildren(
        h("p", { class: "results-summary" },
          h("strong", { text: plural(data.hits.length, "passage") }), ` for “${q}”`,
          chosen ? [" within ", h("a", { href: conceptHref(chosen.id), text: chosen.label })] : null,
          data.query_concepts.length ? [h("span", { class: "muted", text: " · concepts in the query: " }),
            data.query_concepts.map((qc, i) => [i ? ", " : "", h("a", { href: conceptHref(qc.id), text: qc.label })])] : null),
        data.hits.length
          ? h("ol", { class: "passages" }, data.hits.map((hit) => h("li", { class: "passage-card hit" },
            h("p", { class: "passage-text" }, highlightWords(hit.text, stems)),
            h("p", { class: "passage-meta" },
              h("a", { class: "doc-link", href: documentHref(hit.document_id, hit.start, hit.end) }, hit.document_title || titles.get(hit.document_id) || hit.document_id),
              h("span", { class: "muted", title: `dense ${fmt(hit.dense_score)} · BM25 ${fmt(hit.lexical_score)}`, text: `score ${fmt(hit.score)}` })),
            hit.concepts.length ? chipList(hit.concepts.slice(0, 8), "small") : null)))
          : h("p", { class: "notice" }, "No passage matches. Try other words, or the ", h("em", { text: "Meaning" }), " mode."));
    } catch (err) {
      if (err.name === "AbortError" || ctx.stale()) return;
      results.replaceChildren(errorBox(err, { retry: render }));
    }
  }

  // ---------------------------------------------------------------- ask

  const EXAMPLE_QUESTIONS = [
    "Who is the bridge between leaders and the workforce?",
    "Why do organizations need both leadership and management?",
    "What does trust depend on?",
  ];

  async function askView(route, ctx) {
    const q = route.params.get("q") || "";
    const results = h("div", { id: "ask-results", class: "results" });
    const input = h("textarea", { id: "ask-q", name: "q", rows: "2", required: true, placeholder: "Ask about leadership and management…" });
    input.value = q;
    const form = h("form", { id: "ask-form", class: "query-form ask",
      onsubmit: (e) => {
        e.preventDefault();
        const value = input.value.trim();
        if (!value) { input.focus(); return; }
        go(`#/ask?q=${enc(value)}`);
      } },
    h("div", { class: "field grow" }, h("label", { for: "ask-q", text: "Your question" }), input),
    h("div", { class: "field end" }, h("button", { class: "button", type: "submit", text: "Ask" })));
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); }
    });
    show(ctx, h("section", {},
      h("h1", { tabindex: "-1", text: "Ask a question" }),
      h("p", { class: "lead small", text: "Answers are sentences quoted from the corpus, each with its source. When nothing in the corpus answers, leadgraph says so instead of guessing." }),
      form, results));
    if (!q) {
      results.append(h("div", { class: "examples" }, h("h2", { text: "Try" }),
        h("ul", { class: "chips" }, EXAMPLE_QUESTIONS.map((x) => h("li", {}, h("a", { class: "chip", href: `#/ask?q=${enc(x)}`, text: x }))))));
      settle(ctx, "Ask a question");
      if (ctx.navigated) input.focus();
      return;
    }
    results.append(loading("Looking for sentences that answer…"));
    settle(ctx, `Ask: ${q}`);
    try {
      const [data, titles] = await Promise.all([
        api("/ask", { method: "POST", body: { question: q, k: 5 }, signal: ctx.signal }),
        documentTitles(),
      ]);
      if (ctx.stale()) return;
      const parts = [];
      if (data.abstained || !data.answer) {
        parts.push(h("div", { class: "notice" },
          h("h2", { class: "notice-title", text: "No answer in the corpus" }),
          h("p", { text: "No sentence of the corpus answers this question confidently. Try other words, or search the passages." }),
          h("p", {}, h("a", { href: `#/search?q=${enc(q)}` }, "Search passages for “", q, "” →"))));
      } else {
        const ref = (i) => h("sup", {}, h("button", {
          type: "button", class: "cite-ref", "aria-label": `source ${i + 1}`,
          onclick: () => { const t = $(`#cite-${i + 1}`); t.scrollIntoView({ block: "nearest" }); $("a", t).focus(); },
        }, String(i + 1)));
        // the answer is its cited sentences joined: show each with its source number
        const joined = data.citations.map((c) => c.quote).join(" ") === data.answer;
        parts.push(h("figure", { class: "answer" },
          h("blockquote", {}, joined
            ? data.citations.map((c, i) => [i ? " " : "", h("span", { class: "answer-sentence", text: c.quote }), ref(i)])
            : [data.answer, data.citations.map((c, i) => ref(i))]),
          h("figcaption", {},
            h("span", { class: "confidence" }, "confidence ",
              h("meter", { min: "0", max: "1", value: String(data.confidence), "aria-label": "confidence" }),
              " ", fmt(data.confidence)))));
      }
      if (data.citations.length) {
        parts.push(h("section", { class: "citations" }, h("h2", { text: "Sources" }),
          h("ol", {}, data.citations.map((c, i) => h("li", { class: "citation", id: `cite-${i + 1}` },
            h("a", { class: "citation-link", href: documentHref(c.document_id, c.start, c.end), dataset: { quote: c.quote } },
              h("span", { class: "citation-quote", text: `“${c.quote}”` }),
              h("span", { class: "citation-source" }, titles.get(c.document_id) || c.document_id,
                h("span", { class: "muted", text: ` · characters ${c.start}–${c.end} · score ${fmt(c.score)}` }))),
            originalLink(c.source, "original article"))))));
      }
      if (data.concepts.length) {
        parts.push(h("section", { class: "question-concepts" }, h("h2", { text: "Concepts in the question" }),
          h("dl", {}, data.concepts.map((c) => [
            h("dt", {}, h("a", { href: conceptHref(c.id), text: c.label })),
            h("dd", { text: c.definition || "—" })]))));
      }
      results.replaceChildren(...parts);
    } catch (err) {
      if (err.name === "AbortError" || ctx.stale()) return;
      results.replaceChildren(errorBox(err, { retry: render }));
    }
  }

  // ---------------------------------------------------------------- document

  async function documentView(route, ctx) {
    const id = route.arg || "";
    show(ctx, loading("Loading document…"));
    const doc = await api(`/documents/${enc(id)}`, { signal: ctx.signal });
    const start = Number.parseInt(route.params.get("start") || "", 10);
    const end = Number.parseInt(route.params.get("end") || "", 10);
    const wanted = Number.isInteger(start) && Number.isInteger(end);
    const chars = codePoints(doc.text);
    const hl = wanted && start >= 0 && start < end && end <= chars.length ? { start, end } : null;

    const link = (m, surface) => h("a", { class: "mention", href: conceptHref(m.concept.id), title: m.concept.label, text: surface });
    const body = h("div", { class: "doc-text", id: "doc-text" });
    let cursor = 0;
    for (const [i, p] of doc.passages.entries()) {
      const gap = cut(chars, cursor, p.start);
      if (gap.trim()) body.append(h("div", { class: "gap" }, markedText(chars, 0, cursor, p.start, doc.mentions, link, hl)));
      body.append(h("section", { class: "passage", id: `passage-${i}`, dataset: { passage: p.id }, "aria-label": `Passage ${i + 1}` },
        h("span", { class: "pid", "aria-hidden": "true", title: p.id, text: String(i + 1) }),
        h("div", { class: "ptext" }, markedText(chars, 0, p.start, p.end, doc.mentions, link, hl))));
      cursor = p.end;
    }
    if (cut(chars, cursor).trim()) body.append(h("div", { class: "gap" }, markedText(chars, 0, cursor, chars.length, doc.mentions, link, hl)));

    const counts = new Map();
    for (const m of doc.mentions) {
      const entry = counts.get(m.concept.id) || { ...m.concept, n: 0 };
      entry.n += 1;
      counts.set(m.concept.id, entry);
    }
    const ranked = [...counts.values()].sort((a, b) => b.n - a.n || a.label.localeCompare(b.label));
    const toggles = h("div", { class: "toggles" },
      h("label", {}, h("input", { type: "checkbox", checked: true, onchange: (e) => body.classList.toggle("no-mentions", !e.target.checked) }), " concept mentions"),
      h("label", {}, h("input", { type: "checkbox", checked: true, onchange: (e) => body.classList.toggle("no-passages", !e.target.checked) }), " passage boundaries"));
    show(ctx, h("article", { class: "document" },
      h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/", text: "Browse" }), " › Document"),
      h("h1", { tabindex: "-1", text: doc.title }),
      webAddress(doc.source) ? h("p", { class: "doc-source" }, originalLink(doc.source, "Read the original article")) : null,
      h("p", { class: "doc-meta muted" }, [doc.kind, doc.date, webAddress(doc.source) ? null : doc.source, plural(doc.passages.length, "passage"), plural(doc.mentions.length, "concept mention")].filter(Boolean).join(" · ")),
      hl ? h("p", { class: "notice quote-note" }, "Highlighted: characters ", String(hl.start), "–", String(hl.end), ". ",
        h("button", { type: "button", class: "linklike", onclick: () => { const m = $("mark.quote"); m.scrollIntoView({ block: "center" }); m.focus(); } }, "Jump to it")) : null,
      wanted && !hl ? h("div", { class: "notice error", role: "alert" }, h("p", { text: `Characters ${route.params.get("start")}–${route.params.get("end")} are not a span of this document (it has ${chars.length} characters).` })) : null,
      h("div", { class: "doc-layout" },
        h("div", { class: "doc-main" }, toggles, body),
        h("aside", { class: "doc-side", "aria-label": "Concepts in this document" },
          h("h2", { text: "Concepts mentioned" }),
          ranked.length ? h("ul", { class: "weights compact" }, ranked.map((c) => h("li", {},
            h("a", { href: conceptHref(c.id), text: c.label }), h("span", { class: "num", text: String(c.n) })))) : h("p", { class: "muted", text: "None." })))));
    const first = $("mark.quote", body);
    if (first) {
      first.id = "quote";
      first.tabIndex = -1;
      const passage = first.closest(".passage");
      if (passage) passage.classList.add("current");
    }
    settle(ctx, doc.title, first || null);
  }

  function unknownView(route, ctx) {
    show(ctx, h("div", { class: "notice error", role: "alert" },
      h("h1", { class: "notice-title", tabindex: "-1", text: "No such page" }),
      h("p", {}, "There is no view at ", h("code", { text: location.hash }), ". ", h("a", { href: "#/", text: "Browse the concepts" }), ".")));
    settle(ctx, "No such page");
  }

  const VIEWS = { home: homeView, concept: conceptView, search: searchView, ask: askView, document: documentView };

  // ---------------------------------------------------------------- downloads

  /** Fetch with the RDF Accept header and save the answer as a file. */
  async function download(path, format, filename) {
    const accept = format === "turtle" ? "text/turtle" : "application/ld+json";
    try {
      const blob = await api(path, { accept });
      const url = URL.createObjectURL(blob);
      const a = h("a", { href: url, download: filename, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), 2000);
      toast(`Saved ${filename}`);
    } catch (err) {
      toast(`${errorTitle(err)}: ${err.detail || err.message}`, true);
    }
  }

  // ---------------------------------------------------------------- start

  function initTabs() {
    const tabs = [...document.querySelectorAll('[role="tab"]')];
    for (const tab of tabs) {
      tab.addEventListener("keydown", (e) => {
        const i = tabs.indexOf(tab);
        let next = null;
        if (e.key === "ArrowRight") next = tabs[(i + 1) % tabs.length];
        else if (e.key === "ArrowLeft") next = tabs[(i - 1 + tabs.length) % tabs.length];
        else if (e.key === "Home") next = tabs[0];
        else if (e.key === "End") next = tabs[tabs.length - 1];
        if (!next) return;
        e.preventDefault();
        next.focus();
        next.click();
      });
      tab.addEventListener("click", () => { focusAfterRender = false; });
    }
  }

  async function initFooter() {
    try {
      const [ready, spec] = await Promise.all([api("/ready"), api("/openapi.json").catch(() => null)]);
      const m = ready.index;
      $("#index-info").textContent = `index ${m.version} · ${m.model} · built ${String(m.built_at).slice(0, 10)}`;
      if (spec && spec.paths && spec.paths["/graph"]) $(".graph-downloads").hidden = false;
    } catch (err) {
      $("#index-info").textContent = err instanceof ApiError ? `${errorTitle(err)}: ${err.detail}` : "index status unknown";
    }
  }

  function init() {
    const input = $("#finder-input");
    conceptCombobox(input, $("#finder-list"), (c) => {
      input.value = "";
      focusAfterRender = true;
      go(conceptHref(c.id));
    });
    $("#finder").addEventListener("submit", (e) => e.preventDefault());
    document.addEventListener("keydown", (e) => {
      const typing = e.target.closest && e.target.closest("input, textarea, select, [contenteditable]");
      if (e.key === "/" && !typing) { e.preventDefault(); input.focus(); }
    });
    for (const button of document.querySelectorAll("[data-download]")) {
      const ext = button.dataset.format === "turtle" ? "ttl" : "jsonld";
      button.addEventListener("click", () => download(button.dataset.download, button.dataset.format, `leadgraph.${ext}`));
    }
    initTabs();
    initFooter();
    window.addEventListener("hashchange", () => {
      navigations += 1;
      render();
    });
    render();
  }

  document.addEventListener("DOMContentLoaded", init);
})();
