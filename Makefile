# `make book` and `make test` set themselves up on first use: a virtualenv with the pinned stack
# (requirements/pins.txt), corelib installed editable, and the Debian data packages.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DATA_STAMP := $(VENV)/.data-packages
SCORECARD := book/_generated/scorecard.md

# The offline mirror beside the repository (CI, offline machines) is searched first when present.
ifneq ($(wildcard ../shared/data),)
export CORELIB_DATA_MIRROR ?= $(abspath ../shared/data)
endif
export PYTHONHASHSEED := 0

.PHONY: help setup data book test unit notebooks book-check smoke gpu-bundle scorecard sync handouts clean

help:
	@echo "make book    execute the notebooks and build the HTML book into _build/html/"
	@echo "make test    unit tests, every notebook under nbval (quick profile), book build with -W,"
	@echo "             then every notebook's full configuration as a smoke run (a few steps each)"
	@echo "make smoke   only the full-profile smoke run of every notebook"
	@echo "make gpu-bundle  wheels and data for a full-profile run on a GPU machine (book/gpu.md)"
	@echo "make handouts  student copies (solution cells removed) and teacher copies (as they are)"
	@echo "             of every notebook, under _build/handouts/{student,teacher}/<chapter>/"
	@echo "make sync    re-pair notebooks/*.py with their .ipynb (jupytext) and strip outputs"
	@echo "make data    install the Debian data packages (apt-get; needs root or sudo)"
	@echo "make clean   remove build outputs, caches and results"

setup: $(STAMP) $(DATA_STAMP)

$(STAMP): requirements/pins.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements/pins.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	@touch $@

$(DATA_STAMP): scripts/install_data_packages.sh
	bash scripts/install_data_packages.sh
	@mkdir -p $(VENV) && touch $@

data:
	bash scripts/install_data_packages.sh

scorecard: setup
	@mkdir -p $(dir $(SCORECARD))
	$(PY) -m corelib.report --out $(SCORECARD) --map book/survey_map.md --ledger ledger

book: setup scorecard
	$(VENV)/bin/jupyter-book build . --builder html -W -n --keep-going
	$(MAKE) --no-print-directory scorecard
	$(VENV)/bin/jupyter-book build . --builder html -W -n --keep-going
	@echo "Open _build/html/index.html"

unit: setup
	$(PY) -m pytest tests -q

notebooks: setup
	CORELIB_PROFILE=$${CORELIB_PROFILE:-quick} $(PY) scripts/run_notebooks.py

book-check: setup scorecard
	$(PY) scripts/stage_book.py _build/executed _build/src
	$(VENV)/bin/jupyter-book build _build/src --path-output _build/check --builder html -W -n --keep-going --all

smoke: setup
	$(PY) scripts/run_notebooks.py --smoke

# The bundle for a borrowed GPU machine (book/gpu.md): NOTEBOOKS="notebooks/ch3_2_segmentation/01_fcn_unet_family"
# or GPU_BUDGET_S=600 to fill that many GPU seconds in plan order (no full result first, then the oldest).
gpu-bundle: setup
	$(PY) scripts/gpu_run.py bundle $(NOTEBOOKS) $(if $(GPU_BUDGET_S),--budget-s $(GPU_BUDGET_S))

test: setup
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory unit && \
	$(MAKE) --no-print-directory notebooks && \
	$(MAKE) --no-print-directory book-check && \
	$(MAKE) --no-print-directory smoke && \
	echo "make test: all passed in $$(( $$(date +%s) - start )) s"

sync: setup
	$(PY) scripts/sync_repository.py
	$(VENV)/bin/jupytext --sync notebooks/*/*.py
	$(PY) scripts/strip_outputs.py notebooks

handouts: setup
	$(PY) scripts/handouts.py --out _build/handouts

clean:
	rm -rf _build results book/_generated .pytest_cache .jupyter_cache
	find . -name __pycache__ -not -path "./$(VENV)/*" -exec rm -rf {} +
