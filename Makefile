# MoEGauge — the two commands README opens with:
#   make run    set up .venv, install, run the main job (measure, track proofs, audit)
#   make test   set up .venv if missing, run the test suite
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
VENV   := .venv
VPY    := $(VENV)/bin/python
# Reinstall whenever the dependency list changes.
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: help run test bench status spread site serve lean-build clean-venv

help:
	@echo "make run     set up .venv and run the main job (see README)"
	@echo "make test    set up .venv if missing and run the tests"
	@echo "make bench   run the benchmarks (prints ratios; not part of tests)"
	@echo "make status  regenerate site/_data/lean_status.json"
	@echo "make spread  rerun the study under other seeds, threads and CPU kernels (~30 min)"
	@echo "make site    build the microsite into site/_build (python -m bridge site build)"
	@echo "make serve   build the site and serve it on http://127.0.0.1:$(PORT)/ (PORT=...)"
	@echo "make lean-build   lake exe cache get && lake build (needs elan)"

$(VPY):
	@test -n "$(PYTHON)" || { echo "error: no python3 found; install Python >= 3.11" >&2; exit 2; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || \
	  { echo "error: $(PYTHON) is older than Python 3.11" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(VPY)
	$(VPY) -m pip install --quiet --upgrade pip
	@# setuptools prints an "Editable installation" notice (InformationOnly) for any editable install
	@# of a layout with two package roots; it is information, not a problem with pyproject.toml.
	PYTHONWARNINGS="ignore:Editable installation" $(VPY) -m pip install --quiet -e '.[test,peers]'
	@rm -f $(VENV)/.installed-*
	@touch $@

# The site is built even when the audit reports new findings (the pages show them); the audit's
# exit status is still the target's.
run: $(STAMP)
	$(VPY) -m bridge status
	$(VPY) -m moegauge run
	$(VPY) -m bridge ladder run-all
	@$(VPY) -m bridge audit; audit=$$?; \
	  $(VPY) -m bridge site build || exit $$?; \
	  exit $$audit

# Reruns under other seeds, one thread and AVX2 kernels (~30 min); the claims stage states every
# measured claim at the precision this spread supports. Not part of `make run`.
spread: $(STAMP)
	$(VPY) -m moegauge run --stages spread,claims
	$(VPY) -m bridge audit

test: $(STAMP)
	$(VPY) -m pytest

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(VPY) $$b || exit 1; done

status: $(STAMP)
	$(VPY) -m bridge status

site: $(STAMP)
	$(VPY) -m bridge site build

PORT ?= 8000
serve: site
	@echo "serving site/_build on http://127.0.0.1:$(PORT)/ (Ctrl-C stops)"
	$(VPY) -m http.server --bind 127.0.0.1 --directory site/_build $(PORT)

lean-build:
	lake exe cache get && lake build

clean-venv:
	rm -rf $(VENV)
