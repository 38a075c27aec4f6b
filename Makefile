# The two commands of the README: `make demo` and `make test`. Both install what they need.
PY := .venv/bin/python
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: demo test failover-test install install-browser lint bench screenshots translations clean

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

# The whole benchmark (bench.full: inbox, reading, 20 sessions, stall test, memory), then the
# national directory; bench.inbox, bench.reading and bench.sessions also run alone.
bench: install-browser  # the weight benchmark drives Chromium
	$(PY) -m bench.full
	$(PY) -m bench.directory
	$(PY) -m bench.weight
	$(PY) -m bench.processes

# The README's pictures: the main screens at phone and tablet size, light and dark (docs/screenshots/).
screenshots: install-browser
	$(PY) -m dev.screenshots

# Refresh the catalog after changing French source strings, then translate webmail/locale/en.
translations: install
	.venv/bin/pybabel extract -F babel.cfg -k _ -k N_ -k ngettext:1,2 -k NotFound -k BadRequest -k ServiceUnavailable -k Forbidden -k WebmailError -k LoginRequired -k SmtpRefused -k SmtpUnavailable -k SmtpError --no-location -o webmail/locale/messages.pot .
	.venv/bin/pybabel update -i webmail/locale/messages.pot -d webmail/locale -D messages --no-fuzzy-matching --ignore-obsolete

clean:
	rm -rf .venv .pytest_cache
