"""leadgraph service: a FastAPI app over an index built by `indexer`."""
