#!/usr/bin/env bash
# The main job, offline on the bundled SciFact collection: the default pipeline
# (BM25 top 100 >> MiniLM bi-encoder re-scoring fused with BM25 by RRF), evaluated, with the
# metric table and the cost ledger printed; its result folder becomes a leaderboard entry,
# leaderboards/README.md is regenerated, and an HTML report compares it with plain BM25.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env.sh demo
rerankit run configs/scifact-bm25.yaml --output leaderboards/results/scifact-bm25 --quiet \
  > /dev/null                                    # the baseline the report compares with
rerankit run configs/scifact-bm25-minilm.yaml --output leaderboards/results/scifact-bm25-minilm
rerankit leaderboard leaderboards/results/*
rerankit report leaderboards/results/scifact-bm25 leaderboards/results/scifact-bm25-minilm \
  --output runs/report
