#!/usr/bin/env bash
# README command 2: set up, lint, type-check and run the whole suite on SQLite and PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
export RELAYDESK_TEST_PG_URL="${RELAYDESK_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
# This machine kind starts PostgreSQL before sessions and CI; start it if it is down.
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
fi
# The widget's browser tests use Debian's chromium + chromium-driver (installed when missing).
bash scripts/install_chromium.sh
.venv/bin/ruff check .
.venv/bin/mypy
# pytest exits 5 when it collects no tests; with `set -e` that fails the run, as it should.
.venv/bin/pytest -q -p no:cacheprovider "$@"
