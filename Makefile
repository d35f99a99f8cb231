# Every target sets itself up: a virtual environment in .venv with the CPU build of torch
# (unless a torch is already there: GPU users install their CUDA build first, see README).
VENV       ?= .venv
PY         := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.13.0
STAMP      := $(VENV)/.installed-stamp
NOTEBOOKS  := $(sort $(wildcard book/[0-9]*.ipynb))
PIP        := $(PY) -m pip install --quiet --disable-pip-version-check
# Tiny models on two torch threads thrash as soon as anything else uses a core (chapter 1, 100 steps:
# 4.1 s on 2 threads idle, 12.0 s beside one busy process; 5.0 s on 1 thread either way). Every
# Python process and notebook kernel these targets start inherits one thread.
export OMP_NUM_THREADS := 1
export MKL_NUM_THREADS := 1
# make test spreads test files and chapters over JOBS single-threaded processes (pytest-xdist; one
# process per notebook, its cells in order): one per core.
JOBS       ?= 2

.PHONY: setup book test test-fast lab execute gpu-experiments bench clean
.PHONY: test-book vendor zoo

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PIP) "$(TORCH_SPEC)"
	$(PIP) -e ".[dev]"
	touch $(STAMP)

## make book: build the HTML book from the committed chapter outputs (warnings are errors);
## `make test` re-executes every chapter, `make execute` refreshes the committed outputs
book: $(STAMP)
	$(VENV)/bin/jupyter-book build . -W -n --keep-going
	@echo "open _build/html/index.html"

## make test: unit tests, doctests and every chapter through nbval (GPU tests skip without CUDA)
test: $(STAMP)
	$(PY) -m pytest -n $(JOBS) --dist loadscope -m "not gpu" $(NOTEBOOKS) tests mae_theory \
	    --nbval-lax --nbval-current-env --nbval-cell-timeout=300 \
	    --nbval-sanitize-with tests/nbval_sanitize.cfg

## make test-fast: unit tests only
test-fast: $(STAMP)
	$(PY) -m pytest -m "not gpu and not slow" tests mae_theory

## make test-book: the built book in headless Chromium with no network (run make book first)
test-book: $(STAMP)
	MAE_THEORY_REQUIRE_BROWSER=1 $(PY) -m pytest -q tests/test_book_offline.py

## make zoo: train every zoo recipe on the CPU (resumes; a finished seed is skipped, so a clean
## checkout with the committed data/zoo does nothing). About 80 core-minutes from scratch.
zoo: $(STAMP)
	$(PY) -m mae_theory pretrain all

## make vendor: re-fetch the pinned MathJax, RequireJS and widget manager (npm) into book/_static
vendor: $(STAMP)
	$(PY) scripts/vendor_web_assets.py

## make lab: JupyterLab on the book, widgets live
lab: $(STAMP)
	$(VENV)/bin/jupyter lab book/

## make execute: re-run every chapter in place (refreshes the committed outputs and widget state)
execute: $(STAMP)
	$(VENV)/bin/jupyter execute --inplace $(NOTEBOOKS)

## make bench: training-step throughput on this machine's GPU (see benchmarks/README.md)
bench: $(STAMP)
	$(PY) benchmarks/bench_train_step.py --hf

## make gpu-experiments: GPU tests, benchmarks and the named experiments of chapter 9 (needs CUDA)
gpu-experiments: $(STAMP)
	$(PY) -m pytest -m gpu tests
	$(PY) benchmarks/bench_train_step.py --hf --out benchmarks/results.json
	$(PY) -m mae_theory run mask_ratio_sweep --device cuda
	$(PY) -m mae_theory run masking_unit --device cuda
	$(PY) -m mae_theory run decoder_depth --device cuda

clean:
	rm -rf _build
