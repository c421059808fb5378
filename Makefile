# Every target sets up what it needs: a fresh clone needs only `make chat` or `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install chat test lint eval eval-squad calibrate bench index discord telegram serve clean

install: $(STAMP)

# torch first, pinned to the local CPU build: an unpinned torch pulls a multi-gigabyte CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

chat: install
	$(BIN)/launchbot chat

index: install
	$(BIN)/launchbot index

test: lint
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check bot tests benchmarks
	$(BIN)/ruff format --check bot tests benchmarks

# Follow-up dialogues: every scored turn must hold the fact in its first quoted sentence. One public
# turn is still missed (tests/core/answering/test_conversation.py, KNOWN_MISSES): the gate is the measured
# 9/10 until it passes, then 1.
eval: install
	$(BIN)/launchbot eval tests/data/dev_qa.yaml --min-hit 1 --min-abstain 1
	$(BIN)/launchbot eval tests/data/dialogues.yaml --min-hit 0.9 --min-abstain 1

eval-squad: install
	$(BIN)/launchbot eval ../shared/eval/squad2/dev-v2.0-half.json --curve

# Re-fit the answerability model for the configured embedding model (README, "Answer quality"):
# answers every SQuAD half-dev and launch calibration question once (~15 minutes here), then fits.
calibrate: install
	$(BIN)/python -m bot.calibration

bench: install
	$(BIN)/python -m benchmarks

discord: install
	$(BIN)/launchbot discord

telegram: install
	$(BIN)/launchbot telegram

serve: install
	$(BIN)/launchbot serve

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
