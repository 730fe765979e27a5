# Two commands on a fresh machine: `make run` (demo site on SQLite) and `make test` (whole suite).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test setup chromium clean bench

$(VENV)/.installed: requirements.txt requirements-test.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-test.txt
	touch $@

setup: $(VENV)/.installed

# Headless Chromium for the browser tests; without it those tests are skipped.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "Chromium is not installed: browser tests will be skipped (apt-get install chromium)."; fi; }

run: setup
	DEBUG=true $(PY) manage.py migrate --noinput
	DEBUG=true $(PY) manage.py seed_demo
	@echo "Serving on http://$(HOST):$(PORT)/admin/ (Ctrl-C to stop)"
	DEBUG=true $(PY) manage.py runserver $(HOST):$(PORT)

test: setup chromium
	$(PY) -m pytest $(PYTEST_ARGS)

# SCIM load benchmark on PostgreSQL (see README, Benchmark): BENCH_USERS users (comma-separated sizes), BENCH_DURATION s a phase.
BENCH_USERS ?= 1000,100000,1000000
BENCH_DURATION ?= 6
bench: setup
	$(PY) -m bench.scim_bench --users $(BENCH_USERS) --duration $(BENCH_DURATION) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) db.sqlite3 .pytest_cache .hypothesis
