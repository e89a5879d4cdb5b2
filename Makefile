# analog_tt: reproducible artifact for multi-tile Tiki-Taka (Gallo & del Alamo).
#   make reproduce [PROFILE=quick|smoke|paper] [SCHEDULER=tcp://host:8786] [RECOMPUTE=1] [SWEEP=0|1]
#   make test      unit tests + nbval notebook regression tests
#   make lab       JupyterLab with the project's kernel
# Everything runs in .venv, which `make env` builds from the pinned requirements.

SHELL       := /bin/bash
PYTHON      ?= python3
VENV        := .venv
PY          := $(VENV)/bin/python
PROFILE     ?= quick
SCHEDULER   ?=
PYTEST_ARGS ?=
RECOMPUTE   ?=
# free disk (GiB) a first `make env` needs: the venv is about 8 GiB, plus pip's unpacking room
ENV_DISK_GB ?= 10
# The venv is rebuilt only when the pinned requirements (or the package build) change: the stamp
# is keyed on their hash.
REQ_HASH    := $(shell cat requirements.txt requirements.lock pyproject.toml setup.py analog_tt/_clockshim.cpp | sha256sum | cut -c1-16)
STAMP       := $(VENV)/.installed-$(REQ_HASH)
export JUPYTER_PREFER_ENV_PATH := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1
# aihwkit seeds its C++ tiles from the wall clock; this helper (built by `pip install -e .`) makes
# those seeds follow analog_tt's seed_everything in every process we start (kernels, workers).
export LD_PRELOAD = $(firstword $(wildcard $(CURDIR)/analog_tt/_clockshim*.so))

.PHONY: notebooks env data test test-all reproduce lab lint format clean distclean help

help:
	@echo "make env | data | test | test-all | reproduce [PROFILE=quick] | lab | lint | clean"

env: $(STAMP)

$(STAMP):
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if (3, 10) <= v <= (3, 12) else \
	  f"Python 3.10-3.12 is needed (aihwkit 1.1.0 has wheels for those), found {v[0]}.{v[1]}: run make PYTHON=python3.11 ...")'
	@test -d $(VENV)/lib/python3.*/site-packages/torch 2>/dev/null || $(PYTHON) -c 'import shutil, sys; \
	  free = shutil.disk_usage(".").free / 2**30; sys.exit(0 if free >= $(ENV_DISK_GB) else \
	  f"make env needs about $(ENV_DISK_GB) GiB of free disk here for .venv (PyPI torch 2.10.0 brings its CUDA libraries), found {free:.1f} GiB: free some space (old clones and their .venv) and rerun")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade "pip>=24" --quiet
	$(PY) -m pip install -r requirements.txt -c requirements.lock
	$(PY) -m pip install --no-deps --no-build-isolation -e . --quiet
	$(PY) -m ipykernel install --sys-prefix --name analog-tt --display-name "Python (analog-tt)" >/dev/null
	@rm -f $(VENV)/.installed-*
	$(PY) -m analog_tt doctor
	@touch $@

data: env
	$(PY) -m analog_tt data

# Smoke results and figures are not kept between test runs: nbval must recompute them, so that a
# changed algorithm shows up as a changed notebook output.
test: env data
	rm -rf data/results/smoke build/smoke
	$(PY) -m pytest -m "not slow" tests --nbval-lax --nbval-current-env notebooks $(PYTEST_ARGS)

test-all: env data
	rm -rf data/results/smoke build/smoke
	$(PY) -m pytest tests --nbval-lax --nbval-current-env notebooks $(PYTEST_ARGS)

# RECOMPUTE=1 drops the profile's cached (committed) results first, so every run is recomputed;
# `git checkout data/results` brings the committed ones back.
reproduce: env data
ifeq ($(RECOMPUTE),1)
	@test "$(PROFILE)" != paper || { echo "RECOMPUTE=1 with PROFILE=paper would drop days of runs; delete data/results/paper/<experiment> by hand"; exit 2; }
	rm -rf data/results/$(PROFILE)
endif
	$(PY) -m analog_tt reproduce --profile $(PROFILE) $(if $(SCHEDULER),--scheduler $(SCHEDULER)) \
	  $(if $(filter 0,$(SWEEP)),--skip-sweeps) $(if $(filter 1,$(SWEEP)),--yes)

# Re-execute the notebooks in place with their defaults (the smoke profile): their outputs are the
# nbval reference that `make test` compares against. Run after changing a notebook or an algorithm.
# Cells tagged paper-results (they read the committed paper-profile runs) keep no output.
notebooks: env data
	rm -rf data/results/smoke build/smoke
	cd notebooks && for nb in [0-9][0-9]_*.ipynb; do \
	  echo "executing $$nb"; ../$(PY) -m papermill "$$nb" "$$nb" -k analog-tt --cwd . || exit 1; \
	  ../$(PY) -m analog_tt.report.committed_outputs "$$nb" || exit 1; done

lab: env data
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

lint:
	$(VENV)/bin/ruff check analog_tt tests benchmarks
	$(VENV)/bin/ruff format --check analog_tt tests benchmarks

format:
	$(VENV)/bin/ruff format analog_tt tests benchmarks
	$(VENV)/bin/ruff check --fix analog_tt tests benchmarks

clean:
	rm -rf build .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -not -path './$(VENV)/*' -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) data/MNIST analog_tt/_clockshim*.so

