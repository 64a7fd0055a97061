# Two commands do all the set-up: `make demo` and `make test`.
# Both install from the lock files (exact versions, hash-checked): see README, "Dependencies".
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
UV_VERSION := 0.13.9
LOCK_FLAGS := --generate-hashes --universal --python-version 3.11 --quiet
PIP := $(BIN)/python -m pip install --quiet --no-input
NODE := $(shell command -v node 2>/dev/null)

.PHONY: demo test test-slow test-all lint bench lock mermaid clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The project itself goes in without build isolation: its build backend comes from the lock.
$(VENV)/.installed: requirements.lock pyproject.toml | $(BIN)/python
	$(PIP) --require-hashes -r requirements.lock
	$(PIP) --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.installed-test: requirements-dev.lock pyproject.toml | $(BIN)/python
	$(PIP) --require-hashes -r requirements-dev.lock
	$(PIP) --no-deps --no-build-isolation -e .
	touch $@ $(VENV)/.installed

# Mermaid's own parser for the postmortem check: the exact packages of package-lock.json.
# Skipped where Node.js is absent (that one test then says why it is skipped).
tests/mermaid/node_modules/.installed: tests/mermaid/package-lock.json
ifneq ($(NODE),)
	cd tests/mermaid && npm ci --silent --no-audit --no-fund
	touch $@
else
	@echo "Node.js not found: the Mermaid parser check will be skipped"
endif

mermaid: tests/mermaid/node_modules/.installed

demo: $(VENV)/.installed
	$(BIN)/incident inspect samples/checkout-db-latency
	$(BIN)/incident diagnose samples/checkout-db-latency --no-ai -o postmortem.md
	@echo "postmortem written to postmortem.md"

# The fast loop: lint, types, and every test not marked slow (realdata tests run when
# ../shared/realdata is beside the checkout and skip, saying so, when it is not).
test: $(VENV)/.installed-test mermaid
	$(BIN)/ruff check incident tests bench samples
	$(BIN)/ruff format --check incident tests bench samples
	$(BIN)/mypy
	$(BIN)/python -m pytest

# The heavy end-to-end checks (million-span digest, subprocess AI runs, whole folders).
test-slow: $(VENV)/.installed-test mermaid
	$(BIN)/python -m pytest -m slow

test-all: test test-slow

lint: $(VENV)/.installed-test
	$(BIN)/ruff check incident tests bench samples
	$(BIN)/ruff format --check incident tests bench samples
	$(BIN)/mypy

bench: $(VENV)/.installed
	$(BIN)/python bench/run.py

# Refresh both lock files from the ranges in pyproject.toml (needs the package index).
lock: | $(BIN)/python
	$(PIP) uv==$(UV_VERSION)
	$(BIN)/uv pip compile pyproject.toml --group build $(LOCK_FLAGS) -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --group build --group test $(LOCK_FLAGS) \
		-o requirements-dev.lock

clean:
	rm -rf $(VENV) build dist *.egg-info postmortem.md tests/mermaid/node_modules
