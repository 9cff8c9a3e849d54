#!/usr/bin/env bash
# README command 1: set up, then play a scripted conversation against the local Telegram
# emulator (SQLite, no token needed) and print the transcript.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/relaydesk sandbox --demo
