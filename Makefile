# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
SAMPLE := data/customers-sample.csv

.PHONY: demo test test-fast bench bench-huge lint screenshot clean-venv check-python

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || \
	  { echo "reporter needs Python 3.11 or newer; found: $$($(PYTHON) --version 2>&1). Install python3.11 and run again, or set PYTHON=python3.11."; exit 2; }

$(VENV)/.installed: pyproject.toml | check-python
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,spark]'
	@touch $@

demo: $(VENV)/.installed
	$(PY) -m reporter sample --rows 2240 --seed 2240 --out $(SAMPLE)
	$(PY) -m reporter run --config config/reporter.yaml --allow-unchanged  # a second demo briefs the same sample on purpose

# One worker more than the cores: about a quarter of a worker's time is spent waiting on child
# processes, servers and the JVM, and the third worker fills it (docs/development/testing.md).
WORKERS ?= $(shell $(PYTHON) -c 'import os; print(len(os.sched_getaffinity(0)) + 1)')

# The project's bytecode written once before the suite: where PYTHONDONTWRITEBYTECODE is set
# (it is on the machines here), each fresh interpreter of the suite (commands, servers, benchmark
# children) would compile reporter's modules from source again, 0.27 s a start.
BYTECODE := $(PY) -m compileall -q -j 0 reporter tests benchmarks

test: $(VENV)/.installed
	$(PY) -m ruff check .
	@$(BYTECODE) >/dev/null
	$(PY) -m pytest -n $(WORKERS) --dist loadgroup --durations=15

# The same without the tests that start servers, browsers, PostgreSQL, Spark or kill processes
# (the markers in pyproject.toml): a quick check while editing; `make test` before a commit.
test-fast: $(VENV)/.installed
	$(PY) -m ruff check .
	@$(BYTECODE) >/dev/null
	$(PY) -m pytest -n $(WORKERS) --dist loadgroup --durations=15 -m "not (slow or e2e or server or browser or postgres or spark or crash)"

# Whole runs at 2,240 / 50,000 / 100,000 / 1,000,000 rows, the naive reference and the
# fast-versus-exact check; writes BENCHMARKS.md and benchmarks/results/suite.json (~20 min).
bench: $(VENV)/.installed
	$(PY) -m benchmarks

# The same with 10,000,000 rows added (needs ~15 GB free on /tmp and much longer).
bench-huge: $(VENV)/.installed
	$(PY) -m benchmarks --huge

screenshot: $(VENV)/.installed
	$(PY) docs/make_screenshot.py
	$(PY) docs/make_app_screenshots.py

lint: $(VENV)/.installed
	$(PY) -m ruff check .

clean-venv:
	rm -rf $(VENV)
