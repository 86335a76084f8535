#!/usr/bin/env bash
# The GPU code paths CI cannot run, each against plain fp32 sentence-transformers on the
# same GPU in the same run: bf16 and fp16 weights for the cross-encoder (pairs/s, score
# correlation, same top-10 order) and for corpus encoding (passages/s, cosine), and nDCG@10
# on SciFact test of fp32 vs bf16 vs fp16 encoding (exact dense retrieval and the quick start's
# pipeline). Writes eval/results/gpu/{device.txt,rerank.json,encode.json} ($GPU_RESULTS: elsewhere).
# FAISS on GPU needs faiss-gpu-cu12 (rerankit[gpu]); Dense moves its index there itself.
# Usage (on a machine with a CUDA GPU, from the repository root): bash eval/gpu_check.sh
# (PYTHON=python3 to pick the interpreter).
set -euo pipefail
py=${PYTHON:-python}
out=${GPU_RESULTS:-eval/results/gpu}
mkdir -p "$out"
"$py" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA device')"
"$py" -c "import torch, transformers, sentence_transformers as st
print(torch.cuda.get_device_name(0), '| torch', torch.__version__, '| transformers',
      transformers.__version__, '| sentence-transformers', st.__version__,
      '| bf16', torch.cuda.is_bf16_supported())" | tee "$out/device.txt"
"$py" eval/bench_rerank.py --parts cross-encoder --device cuda --ce-queries 100 \
    --ce-depth 100 --ce-batch 128 --results "$out/rerank.json"
"$py" eval/bench_encode.py --parts speed precision --device cuda --passages 5183 \
    --batch-size 128 --rounds 3 --results "$out/encode.json"
"$py" - <<'PY' | tee -a "$out/device.txt"
try:
    import faiss
except ImportError:
    print("faiss: not installed (FAISS on GPU not checked)")
else:
    print("faiss GPUs:", faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0)
PY
