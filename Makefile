# Two commands a newcomer needs: `make run` and `make test`. Both install into .venv when needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
INDEX  ?= index
HOST   ?= 127.0.0.1
PORT   ?= 8000

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: run test install index lint typecheck clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch is pinned so pip takes the CPU build on disk instead of downloading a CUDA build
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Build the index of the bundled corpus (only what changed is re-embedded).
index: $(STAMP)
	$(BIN)/leadgraph index corpus --out $(INDEX)

## Serve on http://$(HOST):$(PORT); builds the index first when there is none.
run: $(STAMP)
	$(BIN)/leadgraph serve --host $(HOST) --port $(PORT) --index $(INDEX)

## Lint, type-check and run the whole test suite.
test: $(STAMP)
	$(BIN)/ruff check $(wildcard app indexer tests bench)
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check $(wildcard app indexer tests bench)

typecheck: $(STAMP)
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(INDEX) .pytest_cache .mypy_cache .ruff_cache
