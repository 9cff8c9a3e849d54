#!/usr/bin/env bash
# The widget's browser tests drive Debian's chromium through chromium-driver (Selenium);
# install them when missing. Needs root (CI runs as root); nothing downloads a browser build.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && [ -x /usr/bin/chromedriver ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "chromium and chromium-driver are missing: run as root, or apt-get install chromium chromium-driver" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends chromium chromium-driver >/dev/null 2>&1 || {
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends chromium chromium-driver >/dev/null
}
