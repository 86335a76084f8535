#!/usr/bin/env bash
# The GPU code paths CI cannot run: fp16/bf16 autocast for the cross-encoder and the
# bi-encoder/dense encoder on CUDA, against plain fp32 sentence-transformers on the same
# GPU, scores compared in the same run. Writes eval/results/gpu/{rerank,encode}.json.
# FAISS on GPU needs faiss-gpu-cu12 (rerankit[gpu]); Dense moves its index there itself.
# Usage (on a machine with a CUDA GPU, from the repository root): bash eval/gpu_check.sh
set -euo pipefail
out=eval/results/gpu
mkdir -p "$out"
python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA device')"
python -c "import torch; print(torch.cuda.get_device_name(0))" | tee "$out/device.txt"
python eval/bench_rerank.py --parts cross-encoder --device cuda --ce-queries 100 \
    --ce-depth 100 --results "$out/rerank.json"
python eval/bench_encode.py --parts speed --device cuda --passages 5183 --batch-size 128 \
    --results "$out/encode.json"
python - <<'PY'
import faiss
print("faiss GPUs:", faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0)
PY
