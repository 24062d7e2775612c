# Everything a fresh machine needs goes through these targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# tensorflow-cpu is the lighter install; GPU users: pip install -e ".[keras-gpu]"
EXTRAS ?= dev,keras-cpu

.PHONY: install test test-jax lint demo bench compare docs docs-figures clean

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
	$(BIN)/python -m pytest tests rlemask rlemask_keras --doctest-modules \
		--ignore=rlemask/__main__.py --ignore=rlemask_keras/__main__.py
	NUMBA_DISABLE_JIT=1 $(BIN)/python -m pytest -m kernels -q -p no:cacheprovider
	$(MAKE) test-jax

# The adapter's math, models, saving and data path once more on Keras' JAX
# backend (installed by the dev extra as jax[cpu]); PyTorch: run the same
# with --keras-backend=torch where torch is installed.
KERAS_TESTS_ON_JAX := tests/test_keras_models.py tests/test_keras_losses.py \
	tests/test_keras_metrics.py tests/test_keras_saving.py tests/test_keras_data.py
test-jax: install
	$(BIN)/python -m pytest --keras-backend=jax -m "keras and not slow" -q -p no:cacheprovider \
		$(KERAS_TESTS_ON_JAX)

demo: install
	$(BIN)/rlemask-keras train --out runs/demo --overwrite --target 0.6

compare: install
	$(BIN)/python benchmarks/compare.py

bench: install
	$(BIN)/asv run --python=same --quick

# The docs' figures and tables come from scripts in docs/scripts, never by hand.
docs-figures: install
	$(BIN)/pip install -e ".[$(EXTRAS),docs]"
	MPLBACKEND=Agg $(BIN)/python docs/scripts/make_figures.py docs/_static

docs: install
	$(BIN)/pip install -e ".[$(EXTRAS),docs]"
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html
	@echo "docs: open docs/_build/html/index.html"

clean:
	rm -rf $(VENV) .asv build *.egg-info .pytest_cache .hypothesis
