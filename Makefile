# The two commands a new user needs: `make repro` (run the pipeline) and `make test` (run the tests).
# Each creates .venv with the pinned dependencies first if it is missing or requirements.txt changed.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(abspath $(BIN)):$(PATH)
# MindSpore's C++ logger: warnings and errors only (GLOG_v=2)
export GLOG_v ?= 2

BOARD ?=
REMOTE_DIR ?=

.PHONY: help venv repro test bench push pull lint deploy clean-venv

help:
	@echo "make repro   set up .venv, then run the DVC pipeline (dvc repro)"
	@echo "make test    set up .venv, then run the test suite"
	@echo "make venv    only create/update .venv from requirements.txt"
	@echo "make bench   benchmarks (training, deployed model, pipeline): prints a table, writes benchmarks/results.json"
	@echo "make push    send data, models and the run-cache to the DVC remote (default: ../lenet5-dvc-remote)"
	@echo "make pull    fetch them (a fresh clone then has everything: dvc repro runs nothing)"
	@echo "make lint    ruff over the code"
	@echo "make deploy BOARD=user@host   run data/samples through models/deploy/lenet.om on an Ascend board (docs/ascend.md)"

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

venv: $(STAMP)

repro: $(STAMP)
	$(BIN)/dvc repro

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -r benchmarks/requirements.txt
	$(BIN)/dvc repro
	$(BIN)/python benchmarks/bench.py

push: $(STAMP)
	$(BIN)/dvc push --run-cache

pull: $(STAMP)
	$(BIN)/dvc pull --run-cache

lint: $(STAMP)
	$(BIN)/python -m pip install --quiet ruff==0.17.5
	$(BIN)/ruff check lenet5 stages tests

deploy:
	@test -n "$(BOARD)" || { echo "usage: make deploy BOARD=user@host [REMOTE_DIR=lenet5-app]" >&2; exit 2; }
	scripts/deploy_board.sh $(BOARD) $(REMOTE_DIR)

clean-venv:
	rm -rf $(VENV)
