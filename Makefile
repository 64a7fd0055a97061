# Two commands do all the set-up: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/incident inspect samples/checkout-db-latency
	$(BIN)/incident diagnose samples/checkout-db-latency --no-ai -o postmortem.md
	@echo "postmortem written to postmortem.md"

test: $(VENV)/.installed-test
	$(BIN)/ruff check incident tests bench samples
	$(BIN)/ruff format --check incident tests bench samples
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check incident tests bench samples
	$(BIN)/ruff format --check incident tests bench samples
	$(BIN)/mypy

bench: $(VENV)/.installed
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build dist *.egg-info postmortem.md
