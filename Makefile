# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test demo install lint typecheck clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

## Run the bot: the console platform on SQLite unless chat tokens are set.
## `make run ARGS=--fake-clock`: the console with a clock that moves on `advance 2h`.
ARGS ?=
run: $(STAMP)
	$(BIN)/casebot run $(ARGS)

## A scripted whole life cycle on the console, with a fake clock.
demo: $(STAMP)
	$(BIN)/casebot demo

## The whole test suite (PostgreSQL tests run when the server answers; under CI they must).
test: $(STAMP)
	$(BIN)/python -m pytest -q

## ruff (lint and format) and mypy, as CI runs them.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy bot commands storage adapters entrypoints

typecheck: $(STAMP)
	$(BIN)/mypy bot commands storage adapters entrypoints

clean:
	rm -rf $(VENV) casebot.db casebot.db-wal casebot.db-shm .pytest_cache
