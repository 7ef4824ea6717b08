# Two commands set everything up on a fresh machine with Python 3.11+:
#   make run    install (first time) and serve on SQLite at http://127.0.0.1:8080
#   make test   install (first time) and run the whole test suite (SQLite and PostgreSQL)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test install lint bench clean

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "ramal needs Python 3.11+ (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(BIN)/.installed

run: install
	# the sandbox may deliver callbacks to local receivers (docs/compat.md §5, SSRF guard)
	RAMAL_CALLBACK_ALLOW_NETWORKS="$${RAMAL_CALLBACK_ALLOW_NETWORKS-127.0.0.0/8,::1}" $(BIN)/ramal serve

test: install
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

bench: install
	$(BIN)/python bench/http_auth.py

clean:
	rm -rf $(VENV) ramal.db ramal.db-* ramal-data .pytest_cache .mypy_cache .ruff_cache
