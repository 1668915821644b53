"""leadgraph indexer: from a corpus of articles to an RDF concept graph, FAISS and BM25 indexes.

The indexer never imports `app`; the service builds on it, not the other way round.
"""

# 2: a document record keeps its front matter `source` and its corpus-relative `path` apart
# (format 1 held the file path, sometimes absolute, as `source`, in documents.jsonl and graph.ttl)
FORMAT_VERSION = 2
