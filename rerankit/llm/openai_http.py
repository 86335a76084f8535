"""Any OpenAI-compatible chat-completions endpoint (vLLM, llama.cpp server, TGI, OpenAI...).

Requests are retried with exponential backoff on connection errors, timeouts, HTTP 429 and
5xx; after the last attempt the error names the URL, the status and the server's message.
First-token log-probabilities come from ``logprobs``/``top_logprobs`` of a one-token
completion; an option outside the returned top tokens gets the lowest returned
log-probability (an upper bound), and a response without log-probabilities is an error,
never a silent 0.5.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import numpy as np

from rerankit.errors import RerankitError
from rerankit.llm.base import LLMBackend, Messages
from rerankit.registry import register

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class LLMServerError(RerankitError):
    """The LLM server failed or answered something unusable, after all retries."""


@register("llm", "openai")
class OpenAICompatibleLLM(LLMBackend):
    """Chat completions over HTTP with retries; ``base_url`` like http://127.0.0.1:8000/v1."""

    takes_url = True

    def __init__(self, base_url: str, model: str = "default", api_key: str | None = None,
                 timeout: float = 60.0, retries: int = 4, backoff: float = 0.5,
                 top_logprobs: int = 20) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.model, self.api_key = model, api_key
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self.top_logprobs = top_logprobs
        self.name = f"{model}@{self.base_url}"

    def identity(self) -> str:
        """The endpoint and model name (a server's weights cannot be hashed from here)."""
        return f"openai:{self.model}@{self.base_url}"

    def _post(self, payload: dict) -> dict:
        url = f"{self.base_url}/chat/completions"
        data = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        last = ""
        began = time.perf_counter()
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            request = urllib.request.Request(url, data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    body = json.loads(response.read())
                break
            except urllib.error.HTTPError as err:
                last = f"HTTP {err.code}: {err.read()[:300].decode(errors='replace')}"
                if err.code not in RETRY_STATUS:
                    raise LLMServerError(f"{url} answered {last}") from None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
                last = f"{type(err).__name__}: {getattr(err, 'reason', err)}"
        else:
            raise LLMServerError(f"{url} failed after {self.retries + 1} attempts ({last})")
        usage = body.get("usage") or {}
        self.calls.add(int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)),
                       time.perf_counter() - began)
        return body

    def generate(self, prompts: list[Messages], max_new_tokens: int) -> list[str]:
        outputs = []
        for messages in prompts:
            body = self._post({"model": self.model, "messages": messages, "temperature": 0,
                               "max_tokens": max_new_tokens})
            outputs.append(first_choice(body, self.base_url)["message"].get("content") or "")
        return outputs

    def first_token_logprobs(self, prompts: list[Messages], options: list[str]) -> np.ndarray:
        rows = []
        for messages in prompts:
            body = self._post({"model": self.model, "messages": messages, "temperature": 0,
                               "max_tokens": 1, "logprobs": True,
                               "top_logprobs": self.top_logprobs})
            rows.append(option_logprobs(first_choice(body, self.base_url), options, self.base_url))
        return np.asarray(rows, dtype=np.float64).reshape(len(prompts), len(options))


def first_choice(body: dict, where: str) -> dict:
    try:
        return body["choices"][0]
    except (KeyError, IndexError, TypeError):
        raise LLMServerError(f"{where}: response has no choices: {str(body)[:200]}") from None


def option_logprobs(choice: dict, options: list[str], where: str) -> list[float]:
    """Log-probabilities of each option as the first token, from an OpenAI-style choice."""
    try:
        top = choice["logprobs"]["content"][0]["top_logprobs"]
    except (KeyError, IndexError, TypeError):
        raise LLMServerError(f"{where}: response has no token log-probabilities (does the "
                             "server support logprobs/top_logprobs?)") from None
    if not top:
        raise LLMServerError(f"{where}: empty top_logprobs")
    by_token: dict[str, float] = {}
    for entry in top:
        token = entry["token"].strip()
        by_token[token] = max(by_token.get(token, -np.inf), float(entry["logprob"]))
    floor = min(float(entry["logprob"]) for entry in top)
    return [by_token.get(option, floor) for option in options]
