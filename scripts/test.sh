#!/usr/bin/env bash
# Lint and test rerankit in ./.venv (created or reused). Runs offline once installed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env.sh test
# The report's browser test drives headless Chromium: install Debian's chromium and
# chromium-driver when they are missing and apt-get can (as root); otherwise it skips, saying why.
if ! command -v chromedriver >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]
then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends chromium chromium-driver fonts-liberation; } >/dev/null 2>&1 \
    || echo "rerankit: could not install chromium; the report's browser test will skip" >&2
fi
ruff check rerankit tests eval
python -m pytest -q "$@"
