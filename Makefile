# chaosllm: `make test` installs what the tests need and runs them all;
# `make demo` runs the six resilience scenarios on the local sandbox.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: help install system-packages lint test unit demo docs package clean

help:
	@echo "make test    install everything and run lint, type checks and the whole test suite"
	@echo "make demo    start the sandbox, run the six scenarios, write journals/ and reports/"
	@echo "make docs    regenerate docs/ACTIVITIES.md from discovery"
	@echo "make lint    ruff and mypy only"
	@echo "make package build the sdist and the wheel into dist/ and check them with twine"

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,sandbox]'
	touch $(STAMP)

install: $(STAMP)

system-packages:
	@bash scripts/install-system-packages.sh

lint: install
	$(PY) -m ruff check chaosllm tests benchmarks
	$(PY) -m mypy

test: install system-packages lint
	$(PY) -m pytest -q -p no:cacheprovider

unit: install
	$(PY) -m pytest -q -m "not integration"

docs: install
	$(VENV)/bin/chaosllm docs -o docs/ACTIVITIES.md

demo: install system-packages
	$(PY) -m chaosllm.sandbox.app.demo

package: install
	rm -rf dist
	$(PY) -m build --outdir dist .
	$(PY) -m twine check --strict dist/*

clean:
	rm -rf $(VENV) build dist *.egg-info reports
