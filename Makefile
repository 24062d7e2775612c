# Everything a fresh machine needs goes through these targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# tensorflow-cpu is the lighter install; GPU users: pip install -e ".[keras-gpu]"
EXTRAS ?= dev,keras-cpu

.PHONY: install test test-nojit lint demo bench compare clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e ".[$(EXTRAS)]"
	touch $@

install: $(VENV)/.installed

lint: install
	$(BIN)/ruff check .

# The kernel tests run twice: compiled, and once as plain Python
# (NUMBA_DISABLE_JIT=1) so that the kernel source itself is covered.
test: install lint
	$(BIN)/python -m pytest
	NUMBA_DISABLE_JIT=1 $(BIN)/python -m pytest -m kernels -q -p no:cacheprovider

demo: install
	$(BIN)/rlemask-keras train --out runs/demo --overwrite

compare: install
	$(BIN)/python benchmarks/compare.py

bench: install
	$(BIN)/asv run --python=same --quick

clean:
	rm -rf $(VENV) .asv build *.egg-info .pytest_cache .hypothesis
