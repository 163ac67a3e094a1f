# Pursuit: `make run` starts everything; `make test` runs the whole suite.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench openapi install clean test-servers

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Reinstall only when the project's dependencies change.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev,embedded]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m services.kit.devstack

# The IMAP tests run a real Dovecot (Debian's dovecot-imapd): installed once, as
# root with apt-get, on a machine that lacks it (CI's clean one); never reinstalled.
test-servers:
	@if command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing dovecot-imapd (the IMAP tests' server)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd >/dev/null; \
	else echo "the IMAP tests need Dovecot: apt-get install dovecot-imapd (as root)"; exit 1; fi

test: $(STAMP) test-servers
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy shared services migrations openapi tests bench
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(PY) -m bench

openapi: $(STAMP)
	$(PY) openapi/generate.py

clean:
	rm -rf $(VENV) .data .mypy_cache .ruff_cache
