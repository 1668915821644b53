"""leadgraph: a knowledge graph and hybrid semantic search over leadership and management content.

Installed, this is the only top-level package leadgraph puts into site-packages:

    leadgraph/
      app/        the service, the CLI and the MCP server       (the repository's app/)
      indexer/    corpus to index: parse, chunk, embed, link    (the repository's indexer/)
      ontology/   the curated SKOS scheme and its SHACL shapes  (the repository's ontology/)

`pyproject.toml` maps the repository's top-level folders under this name; in the repository,
`app`, `indexer` and `ontology` here are links to them, so tools that read the source tree
(mypy, pytest, ruff) see the same package names as an installed copy. `app` uses `indexer`,
never the reverse.
"""
