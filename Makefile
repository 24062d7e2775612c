# Everything a fresh machine needs goes through these targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# tensorflow-cpu is the lighter install; GPU users: pip install -e ".[keras-gpu]"
EXTRAS ?= dev,keras-cpu

.PHONY: install install-torch browser test test-jax test-torch lint demo bench compare docs docs-figures clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e ".[$(EXTRAS)]"
	touch $@

install: $(VENV)/.installed

lint: install
	$(BIN)/ruff check .

# The report page's browser tests (tests/core/test_report_page.py) drive Debian's
# chromium through Playwright (the dev extra); Playwright's own browser download
# is not used.  Installed where apt-get runs as root; elsewhere the tests skip.
browser:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "browser: installing Debian's chromium for the report page's browser tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends chromium) >/dev/null 2>&1 \
		|| echo "browser: apt-get could not install chromium: the browser tests skip"; \
	else echo "browser: no chromium and no root apt-get: the report page's browser tests skip"; fi

# The kernel tests run twice: compiled, and once as plain Python
# (NUMBA_DISABLE_JIT=1) so that the kernel source itself is covered.
test: install lint browser
	$(BIN)/python -m pytest tests rlemask rlemask_keras --doctest-modules --durations=25 \
		--ignore=rlemask/__main__.py --ignore=rlemask_keras/__main__.py
	NUMBA_DISABLE_JIT=1 $(BIN)/python -m pytest -m kernels -q -p no:cacheprovider
	$(MAKE) test-jax
	@if $(BIN)/python -c "import torch" 2>/dev/null; then $(MAKE) test-torch; \
	else echo "test-torch: skipped, torch is not installed (make install-torch)"; fi

# The adapter's math, models, saving and data path once more on another Keras
# backend: JAX (installed by the dev extra as jax[cpu]) always, PyTorch where
# torch is installed (its wheels are large, so the dev extra leaves it out).
KERAS_TESTS_ON_OTHER_BACKENDS := tests/adapter/test_keras_models.py tests/adapter/test_keras_losses.py \
	tests/adapter/test_keras_metrics.py tests/adapter/test_keras_saving.py tests/adapter/test_keras_data.py
test-jax: install
	$(BIN)/python -m pytest --keras-backend=jax -m "keras and not slow" -q -p no:cacheprovider \
		$(KERAS_TESTS_ON_OTHER_BACKENDS)

test-torch: install
	$(BIN)/python -m pytest --keras-backend=torch -m "keras and not slow" -q -p no:cacheprovider \
		$(KERAS_TESTS_ON_OTHER_BACKENDS) tests/adapter/test_keras_encoders.py tests/adapter/test_keras_predict.py \
		tests/adapter/test_keras_training.py tests/adapter/test_keras_distribute.py

# torch's CPU build; on a machine whose pip finds no CPU file, PyPI's default
# build (with CUDA, several GB): pip install torch --index-url https://download.pytorch.org/whl/cpu
TORCH ?= torch==2.13.0
install-torch: install
	$(BIN)/pip install "$(TORCH)"

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
