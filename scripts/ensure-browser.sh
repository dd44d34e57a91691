#!/usr/bin/env bash
# Make sure Debian's Chromium and CJK fonts are installed for the browser tests.
# Playwright cannot download its own browser here, so the tests drive /usr/bin/chromium.
set -euo pipefail

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
if ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then need+=(fonts-noto-cjk); fi
[ ${#need[@]} -eq 0 ] && exit 0

echo "browser tests need: ${need[*]}"
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "cannot install them here (needs root and apt-get). Install them, e.g." >&2
  echo "  sudo apt-get install ${need[*]}" >&2
  echo "or run the suite without browser tests: make test PYTEST_ARGS='-m \"not browser\"'" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "installed: ${need[*]}"
