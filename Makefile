# Outcry: `make run` serves the app with everything embedded; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: run test lint format bench clean

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Outcry needs Python 3.11 or newer" or 0)'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m webapp.devserver

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Every benchmark stage against its baseline in one run (bench/README.md); BENCH_ARGS passes options.
bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

# Style, dead code (vulture: pyproject.toml and vulture_allowlist.py) and the import direction (import-linter's
# contracts in pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check webapp tasks tests
	$(BIN)/ruff format --check webapp tasks tests
	$(BIN)/vulture
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format webapp tasks tests
	$(BIN)/ruff check --fix webapp tasks tests

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-output
