# Two commands on a fresh machine: `make demo` and `make test`. Both build .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install demo test lint bench clean

$(BIN)/attune: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/attune

demo: install
	$(BIN)/attune demo

test: install
	$(BIN)/pytest

# Needs PostgreSQL and Redis: ATTUNE_BENCH_DATABASE_URL (its database is emptied) and
# ATTUNE_BENCH_REDIS_URL. LOADGEN_SCALE=1 replays the full 1,000 practices.
LOADGEN_SCALE ?= 0.01
bench: install
	$(BIN)/python -m bench.submissions
	$(BIN)/python -m bench.latency
	$(BIN)/python -m bench.email_rate
	$(BIN)/python -m bench.scheduler_query
	$(BIN)/python -m bench.loadgen --scale $(LOADGEN_SCALE)
	$(BIN)/python -m bench.serve

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) var .pytest_cache
