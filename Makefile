# Two commands on a fresh machine: `make demo` and `make test`. Both build .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install lock demo test lint bench clean

# Installs come from the hashed lock files alone; pyproject.toml only states the ranges the
# lock is resolved within. A changed lock (or pyproject.toml) reinstalls. The project itself
# goes in with --no-deps: the lock is the whole environment, so nothing is resolved at install.
RUNTIME_LOCK := requirements/runtime.txt
DEV_LOCK := requirements/dev.txt

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(BIN)/attune: pyproject.toml $(RUNTIME_LOCK) $(DEV_LOCK) | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r $(DEV_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

install: $(BIN)/attune

demo: install
	$(BIN)/attune demo

# The type check first: under a minute from cold (seconds once cached), the suite far longer.
test: install
	$(BIN)/mypy
	$(BIN)/pytest

# Needs PostgreSQL and Redis: ATTUNE_BENCH_DATABASE_URL (its database is emptied) and
# ATTUNE_BENCH_REDIS_URL. LOADGEN_SCALE=1 replays the full 1,000 practices.
LOADGEN_SCALE ?= 0.01
bench: install
	$(BIN)/python -m bench.submissions
	$(BIN)/python -m bench.latency
	$(BIN)/python -m bench.email_rate
	$(BIN)/python -m bench.email_cpu
	$(BIN)/python -m bench.evaluation
	$(BIN)/python -m bench.scheduler_query
	$(BIN)/python -m bench.scheduler_rate
	$(BIN)/python -m bench.loadgen --scale $(LOADGEN_SCALE)
	$(BIN)/python -m bench.serve

# The lock tool is needed only to update the locks, so it is installed here and nowhere else.
# `make lock` keeps every pin that still satisfies pyproject.toml and resolves only what
# changed there; `make lock UPGRADE=1` moves every pin to the newest release in range.
# Universal resolution: one lock for Linux, macOS and Windows on Python 3.11 and newer. The
# runtime lock (the image's) is constrained by the dev lock, so it runs the versions tested.
UV_VERSION := 0.13.9
UV_COMPILE := $(BIN)/uv pip compile pyproject.toml --quiet --universal --python-version 3.11 \
	--generate-hashes --annotation-style line --custom-compile-command 'make lock' \
	$(if $(UPGRADE),--upgrade)

$(BIN)/uv: | $(BIN)/python
	$(BIN)/python -m pip install --quiet uv==$(UV_VERSION)

lock: $(BIN)/uv
	@mkdir -p requirements
	$(UV_COMPILE) --extra dev -o $(DEV_LOCK)
	$(UV_COMPILE) -c $(DEV_LOCK) -o $(RUNTIME_LOCK)

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache
