#!/usr/bin/env bash
# Lint and test rerankit in ./.venv (created or reused). Runs offline once installed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env.sh test
ruff check rerankit tests eval
python -m pytest -q "$@"
