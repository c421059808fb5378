# Every target sets up what it needs: a fresh clone needs only `make chat` or `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
# The shared evaluation files (SQuAD 2.0, the hard launch set, the public scorers) live beside a
# checkout, not in it: eval-squad, calibrate and bench need them and say so before installing anything.
SHARED_EVAL ?= ../shared/eval
SQUAD_HALF := $(SHARED_EVAL)/squad2/dev-v2.0-half.json

.PHONY: install chat test test-fast lint eval eval-squad calibrate train-reader bench index discord telegram serve clean shared-eval shared-squad

install: $(STAMP)

# torch first, pinned to the local CPU build: an unpinned torch pulls a multi-gigabyte CUDA build.
# Each step says what it does; pip shows what it downloads (a fresh machine takes a few minutes).
$(STAMP): pyproject.toml
	@echo "==> [1/3] creating the virtual environment $(VENV)/"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "==> [2/3] installing torch 2.13.0, CPU build (the largest download)"
	$(BIN)/python -m pip install --disable-pip-version-check torch==2.13.0
	@echo "==> [3/3] installing launchbot and its dependencies, the two embedding models included"
	$(BIN)/python -m pip install --disable-pip-version-check -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@
	@echo "==> installed: $(BIN)/launchbot"

chat: install
	$(BIN)/launchbot chat

index: install
	$(BIN)/launchbot index

# Test modules spread over the machine's cores (at most 4 workers; a module's tests stay together, sharing
# its fixtures); the 15 slowest are listed at the end.
test: lint
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4 --dist loadscope --durations 15

# The inner loop: every test but the four marked slow (about a minute less); CI runs make test.
test-fast: lint
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4 --dist loadscope -m "not slow"

lint: install
	$(BIN)/ruff check bot tests benchmarks
	$(BIN)/ruff format --check bot tests benchmarks

# Follow-up dialogues: every scored turn must hold the fact in its first quoted sentence. One public
# turn is still missed (tests/core/answering/test_conversation.py, KNOWN_MISSES): the gate is the measured
# 9/10 until it passes, then 1.
eval: install
	$(BIN)/launchbot eval tests/data/dev_qa.yaml --min-hit 1 --min-abstain 1
	$(BIN)/launchbot eval tests/data/dialogues.yaml --min-hit 0.9 --min-abstain 1
	@if [ -f $(SHARED_EVAL)/launch_hard.yaml ]; then \
		$(BIN)/launchbot eval $(SHARED_EVAL)/launch_hard.yaml --first-quote --min-hit 0.81 --min-abstain 0.66; \
	else echo "$(SHARED_EVAL)/launch_hard.yaml not found: the hard set is gated (9/11, 6/9) only beside the shared evaluation files"; fi

eval-squad: shared-eval install
	$(BIN)/launchbot eval $(SQUAD_HALF) --curve

# Re-fit the answerability model for the configured embedding model (README, "Answer quality"):
# fits the ranking, then answers every SQuAD half-dev and launch calibration question, the absent-fact
# questions and the tuning dialogues once with it (~35 minutes here) and fits the answerability model.
calibrate: shared-eval shared-squad install
	$(BIN)/python -m bot.calibration

# Train the reader on ../shared/data/squad/ and ship it to bot/core/answering/reader_model/ (ONNX int8
# and its model card): seeded, resumable from data/reader/; about two hours on 2 shared cores.
train-reader: shared-squad install
	$(BIN)/python -m bot.training

bench: shared-eval install
	SHARED_EVAL=$(SHARED_EVAL) $(BIN)/python -m benchmarks

SHARED_SQUAD ?= ../shared/data/squad/squad11-train.json.gz

shared-squad:
	@test -f $(SHARED_SQUAD) || { echo "$(SHARED_SQUAD) not found: make train-reader and make calibrate need the SQuAD training data, which lives beside the repository in ../shared/data/squad/ (its README says what it holds), not in a clone. The trained reader (bot/core/answering/reader_model/) and the calibrations (bot/core/answering/calibration/) are already shipped." >&2; exit 2; }

shared-eval:
	@test -f $(SQUAD_HALF) || { echo "$(SQUAD_HALF) not found: this target needs the shared evaluation files, which live beside the repository in $(SHARED_EVAL) (squad2/, launch_hard.yaml, dialogues.yaml, score/), not in a clone; put them there or set SHARED_EVAL=DIR. Without them, make test and make eval run the repository's own sets." >&2; exit 2; }

discord: install
	$(BIN)/launchbot discord

telegram: install
	$(BIN)/launchbot telegram

serve: install
	$(BIN)/launchbot serve

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
