# The two commands: `make run` (set up, demo data, serve on SQLite) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test setup lint bench

$(VENV)/.installed: requirements.lock pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements.lock
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

setup: $(VENV)/.installed

run: setup
	mkdir -p var
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo_data --if-empty
	$(PY) manage.py runserver $(HOST):$(PORT)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy tally
	$(VENV)/bin/lint-imports

test: lint
	mkdir -p var
	$(VENV)/bin/pytest $(PYTEST_ARGS)

bench: setup
	$(PY) bench/run.py
