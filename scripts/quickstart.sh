#!/usr/bin/env bash
# The main job on the bundled real data, offline: evaluate two real TREC 2005 runs
# (BM25 and Dirichlet LM over AQUAINT, 50 topics x 1000 documents) exactly as trec_eval
# would, then compare them with a seeded randomisation test.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env.sh
data=rerankit/datasets/aquaint
echo "== rerankit eval (trec_eval's official measures) =="
rerankit eval "$data/trec_aq_303-689.qrels" "$data/aq_bm25.res" \
  -m map -m gm_map -m Rprec -m bpref -m recip_rank -m P.5,10,20 -m ndcg_cut.10 -m num_rel_ret
echo
echo "== rerankit compare (randomisation test, Holm-corrected) =="
rerankit compare "$data/trec_aq_303-689.qrels" "$data/aq_bm25.res" "$data/aq_lmd.res" \
  -m map -m ndcg_cut_10 -m P_10 -m recall_100 -m MRR@10 --test randomization --seed 42
