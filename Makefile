# Every target creates .venv on first use and installs what it needs.
# torch is pinned by constraints.txt in every install step (a CPU build; no CUDA download).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
PIP_INSTALL := $(PIP) install --disable-pip-version-check -q -c constraints.txt
STAMP := $(VENV)/.installed-dev

.PHONY: venv demo test test-all lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --disable-pip-version-check -q --upgrade pip setuptools wheel

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(PIP_INSTALL) torch==2.13.0
	$(PIP_INSTALL) -e '.[dev,serve,export,glove,tune,minilm3,cluster,explain]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m labelwise.demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-all: $(STAMP)
	$(BIN)/python -m pytest -q -m ''

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/mypy src/labelwise
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py run baselines

clean:
	rm -rf $(VENV) runs tunes build dist *.egg-info src/*.egg-info
