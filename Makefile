# rosetta-filter: `make demo` (set up + filter a demo corpus offline) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
BIN := $(VENV)/bin
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_VERBOSITY ?= error

.PHONY: setup test test-slow lint demo bench clean-demo

setup: $(VENV)/.installed

# torch is pinned and installed first: 2.13.0 is the CPU build on this machine's disk; any
# other spec would pull a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[dev,ray]"
	touch $@

test: setup
	$(BIN)/pytest -q

test-slow: setup
	$(BIN)/pytest -q -m slow

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

demo: setup
	$(BIN)/rosetta-filter models pull smollm2-135m
	$(BIN)/rosetta-filter corpus build --config configs/corpus.yaml
	$(BIN)/rosetta-filter run configs/demo.yaml --overwrite
	$(PY) bench/filter_quality.py out/demo --domain code

bench: setup
	$(PY) bench/activations.py
