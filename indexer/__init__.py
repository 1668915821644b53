"""leadgraph indexer: from a corpus of articles to an RDF concept graph, FAISS and BM25 indexes.

The indexer never imports `app`; the service builds on it, not the other way round.
"""

FORMAT_VERSION = 1
