# The two commands: `make test` (set up, lint, type-check, test) and `make run` (set up, run crocbot).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
SRC    := crocbot tests bench

.PHONY: setup test lint typecheck pytest soak bench run demo status config-check clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check $(SRC)
	$(BIN)/ruff format --check $(SRC)

# tests/ is a package (its modules import each other as tests.support...); bench/ is not, on purpose: its scripts
# import bench_support from their own directory, as `python bench/x.py` does, and mypy resolves them the same way.
typecheck: $(STAMP)
	$(BIN)/mypy --strict $(SRC)

pytest: $(STAMP)
	$(BIN)/pytest

test: lint typecheck pytest

soak: $(STAMP)
	$(BIN)/pytest -m soak

bench: $(STAMP)
	$(BIN)/python bench/bench_runtime.py
	$(BIN)/python bench/bench_feed.py
	$(BIN)/python bench/bench_sl.py
	$(BIN)/python bench/bench_tick_to_exit.py
	$(BIN)/python bench/bench_fill_cost.py

run: $(STAMP)
	$(BIN)/crocbot run

demo: $(STAMP)
	$(BIN)/crocbot demo

status: $(STAMP)
	$(BIN)/crocbot status

config-check: $(STAMP)
	$(BIN)/crocbot config check

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
