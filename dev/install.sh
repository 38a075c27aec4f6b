#!/usr/bin/env bash
# Installs what the demo and the tests need, and nothing system-wide beyond Debian packages:
# the mail servers are only installed here, never started as system services.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(dovecot-imapd dovecot-lmtpd postfix redis-server redis-sentinel nginx-light openssl ca-certificates)
if [ "${1:-}" = "--browser" ]; then
  PACKAGES+=(chromium fonts-dejavu-core)
fi

missing=()
for package in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "Missing Debian packages: ${missing[*]}. Run as root, or: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "Installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  # policy-rc.d keeps the packages from starting system-wide services during installation.
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; created_policy=1
  fi
  apt-get install -y -q --no-install-recommends "${missing[@]}"
  if [ "$created_policy" = 1 ]; then rm -f "$policy"; fi
fi

# The Pro Santé Connect look-alike OpenID provider of the tests and the demo (dev/psc.py):
# oidc-provider 8.x, pinned by its lock file, from the npm registry only.
if [ ! -d dev/oidc/node_modules/oidc-provider ] || [ dev/oidc/package-lock.json -nt dev/oidc/node_modules ]; then
  if command -v npm >/dev/null; then
    (cd dev/oidc && npm ci --no-audit --no-fund --loglevel=error)
  else
    echo "npm is missing: the Pro Santé Connect tests will not run (apt-get install nodejs npm)" >&2
  fi
fi

# axe-core, injected by the browser tests to check accessibility (tests/browser_axe.py).
if [ ! -d dev/axe/node_modules/axe-core ] || [ dev/axe/package-lock.json -nt dev/axe/node_modules ]; then
  if command -v npm >/dev/null; then
    (cd dev/axe && npm ci --no-audit --no-fund --loglevel=error)
  else
    echo "npm is missing: the accessibility tests will not run (apt-get install nodejs npm)" >&2
  fi
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -e "$stamp" ]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[dev]'
  rm -f .venv/.installed-*
  touch "$stamp"
fi
.venv/bin/pybabel compile -q -d webmail/locale -D messages 2>/dev/null || .venv/bin/pybabel compile -d webmail/locale -D messages
