# leadgraph: the same steps as the Makefile (install CPU torch, install the package, build the
# index of corpus/ at image build time), served by `leadgraph serve` as a non-root user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    LEADGRAPH_INDEX=/srv/leadgraph/index \
    LEADGRAPH_CORPUS=/srv/leadgraph/corpus

RUN useradd --create-home --uid 10001 leadgraph
WORKDIR /srv/leadgraph

# CPU build of torch, pinned as in the Makefile (other versions pull a multi-GB CUDA build)
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

COPY pyproject.toml README.md ./
# the package's __init__ and its links to the folders below (pyproject.toml maps them)
COPY leadgraph ./leadgraph
COPY app ./app
COPY indexer ./indexer
COPY ontology ./ontology
COPY corpus ./corpus
# editable, as `make install` does: the ontology/ and corpus/ folders stay beside the code
RUN pip install -e .

# same as `make index`: the image ships ready to serve
RUN leadgraph index corpus --out "$LEADGRAPH_INDEX" --quiet \
    && chown -R leadgraph:leadgraph /srv/leadgraph

USER leadgraph
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/ready', timeout=4).status != 200)"
CMD ["leadgraph", "serve", "--host", "0.0.0.0", "--port", "8000"]
