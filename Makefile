# The two commands of the README: `make demo` and `make test`. Both install what they need.
PY := .venv/bin/python
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: demo test failover-test install install-browser lint bench translations clean

demo: install
	$(PY) -m dev.demo

test: install-browser
	$(PY) -m pytest

# The Redis Sentinel failover alone (a primary, a replica, three sentinels; also in `make test`).
failover-test: install
	$(PY) -m pytest tests/ops/test_failover.py -q

install:
	bash dev/install.sh

install-browser:
	bash dev/install.sh --browser

lint: install
	.venv/bin/ruff check webmail dev tests bench
	.venv/bin/ruff format --check webmail
	.venv/bin/mypy

bench: install
	$(PY) -m bench.inbox
	$(PY) -m bench.directory
	$(PY) -m bench.sessions
	$(PY) -m bench.reading
	$(PY) -m bench.processes

# Refresh the catalog after changing French source strings, then translate webmail/locale/en.
translations: install
	.venv/bin/pybabel extract -F babel.cfg -k _ -k N_ -k ngettext:1,2 -k NotFound -k BadRequest -k ServiceUnavailable -k Forbidden -k WebmailError -k LoginRequired -k SmtpRefused -k SmtpUnavailable -k SmtpError --no-location -o webmail/locale/messages.pot .
	.venv/bin/pybabel update -i webmail/locale/messages.pot -d webmail/locale -D messages --no-fuzzy-matching --ignore-obsolete

clean:
	rm -rf .venv .pytest_cache
