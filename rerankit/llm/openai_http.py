"""Any OpenAI-compatible chat-completions endpoint (vLLM, llama.cpp server, TGI, OpenAI...).

Requests go through httpx, up to ``concurrency`` at a time (a thread pool; servers such as
vLLM batch concurrent requests), and each one is retried on its own by tenacity on
connection errors, timeouts, HTTP 408/409/425/429 and 5xx: it waits what the server's
``Retry-After`` header says (seconds or an HTTP date, at most :data:`MAX_RETRY_AFTER`), else
an exponential backoff with random jitter. After the last attempt the error names the URL,
the status and the server's message. Results come back in input order; when some requests of
a call fail, the others still finish, the call raises one :class:`LLMServerError` saying how
many failed, and the answers that did arrive are kept so that calling again sends only the
failed prompts.

First-token log-probabilities come from ``logprobs``/``top_logprobs`` of a one-token
completion (see :func:`rerankit.llm.responses.option_logprobs`).
"""

from __future__ import annotations

import email.utils
import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Annotated

import numpy as np
from annotated_types import Ge

from rerankit.errors import LLMServerError, MissingDependencyError, RerankitError
from rerankit.llm.base import LLMBackend, Messages
from rerankit.llm.responses import first_choice, message_text, option_logprobs
from rerankit.registry import register

if TYPE_CHECKING:
    import httpx

__all__ = ["RETRY_STATUS", "LLMServerError", "OpenAICompatibleLLM", "retry_after_seconds"]

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
#: The longest wait a ``Retry-After`` header can ask for, in seconds (longer asks are capped).
MAX_RETRY_AFTER = 60.0
#: The longest exponential backoff between two attempts, in seconds.
MAX_BACKOFF = 30.0


class _Retryable(Exception):
    """A failed attempt worth another try (carries the server's ``Retry-After``, if any)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: a number of seconds or an HTTP date
    (RFC 9110); None when absent or unreadable. Capped to [0, MAX_RETRY_AFTER]."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    if seconds != seconds:                      # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


@register("llm", "openai")
class OpenAICompatibleLLM(LLMBackend):
    """Chat completions over HTTP; ``base_url`` like http://127.0.0.1:8000/v1.

    ``retries`` is per request; ``backoff`` the first backoff in seconds (doubling, plus up to
    ``backoff`` seconds of jitter); ``concurrency`` the most requests in flight at once.
    """

    takes_url = True

    def __init__(self, base_url: str, model: str = "default", api_key: str | None = None,
                 timeout: float = 60.0, retries: int = 4, backoff: float = 0.5,
                 top_logprobs: int = 20, concurrency: Annotated[int, Ge(1)] = 8) -> None:
        super().__init__()
        try:
            import httpx  # noqa: F401
            import tenacity  # noqa: F401
        except ImportError as err:
            raise MissingDependencyError(err.name or "httpx", "api",
                                         "The OpenAI-compatible LLM backend") from None
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise RerankitError(f"concurrency must be an integer >= 1 (requests in flight), "
                                f"got {concurrency!r}")
        if retries < 0:
            raise RerankitError(f"retries must be >= 0, got {retries!r}")
        self.base_url = base_url.rstrip("/")
        self.url = f"{self.base_url}/chat/completions"
        self.model, self.api_key = model, api_key
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self.top_logprobs, self.concurrency = top_logprobs, concurrency
        self.name = f"{model}@{self.base_url}"
        self._kept: dict[str, dict] = {}   # answers of a call that failed elsewhere, by payload

    def identity(self) -> str:
        """The endpoint and model name (a server's weights cannot be hashed from here)."""
        return f"openai:{self.model}@{self.base_url}"

    def generate(self, prompts: list[Messages], max_new_tokens: int) -> list[str]:
        bodies = self.complete([{"model": self.model, "messages": messages, "temperature": 0,
                                 "max_tokens": max_new_tokens} for messages in prompts])
        return [message_text(body, self.base_url) for body in bodies]

    def first_token_logprobs(self, prompts: list[Messages], options: list[str]) -> np.ndarray:
        bodies = self.complete([{"model": self.model, "messages": messages, "temperature": 0,
                                 "max_tokens": 1, "logprobs": True,
                                 "top_logprobs": self.top_logprobs} for messages in prompts])
        rows = [option_logprobs(first_choice(body, self.base_url), options, self.base_url)
                for body in bodies]
        return np.asarray(rows, dtype=np.float64).reshape(len(prompts), len(options))

    def complete(self, payloads: list[dict]) -> list[dict]:
        """POST every payload to ``/chat/completions``, up to ``concurrency`` at once, each
        retried on its own; the response bodies in input order.

        If some requests fail for good, the others still run to the end; their answers are
        counted in ``usage`` and kept (a later call with the same payload reuses them), and
        one :class:`LLMServerError` reports the failures.
        """
        import httpx

        keys = [json.dumps(p, sort_keys=True) for p in payloads]
        bodies: list[dict | None] = [self._kept.pop(k, None) for k in keys]
        todo = [i for i, body in enumerate(bodies) if body is None]
        failures: list[tuple[int, str]] = []
        if todo:
            workers = min(self.concurrency, len(todo))
            limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
            with httpx.Client(timeout=self.timeout, limits=limits,
                              headers=self._headers()) as client:
                pool = ThreadPoolExecutor(workers, thread_name_prefix="rerankit-llm")
                try:
                    futures = [pool.submit(self._post, client, payloads[i]) for i in todo]
                    for i, future in zip(todo, futures, strict=True):   # input order
                        try:
                            body, seconds = future.result()
                        except LLMServerError as err:
                            failures.append((i, str(err)))
                            continue
                        bodies[i] = body
                        usage = body.get("usage") or {}
                        self.calls.add(int(usage.get("prompt_tokens") or 0),
                                       int(usage.get("completion_tokens") or 0), seconds)
                finally:                 # Ctrl-C or a bug: send nothing more
                    pool.shutdown(wait=True, cancel_futures=True)
        if failures:
            done = [i for i, body in enumerate(bodies) if body is not None]
            self._kept.update((keys[i], bodies[i]) for i in done)
            if len(payloads) == 1:
                raise LLMServerError(failures[0][1])
            raise LLMServerError(
                f"{len(failures)} of {len(payloads)} requests failed (first: request "
                f"{failures[0][0] + 1}: {failures[0][1]}); the {len(done)} answered are kept "
                "and not sent again on the next call")
        return bodies  # type: ignore[return-value]

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def _post(self, client: httpx.Client, payload: dict) -> tuple[dict, float]:
        """One request with its retries: the response body and the seconds of the attempt
        that succeeded."""
        import tenacity

        def wait(state: tenacity.RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            if isinstance(error, _Retryable) and error.retry_after is not None:
                return error.retry_after
            return jittered(state)

        jittered = (tenacity.wait_exponential(multiplier=self.backoff, max=MAX_BACKOFF)
                    + tenacity.wait_random(0, self.backoff))
        retrying = tenacity.Retrying(stop=tenacity.stop_after_attempt(self.retries + 1),
                                     wait=wait, retry=tenacity.retry_if_exception_type(_Retryable),
                                     reraise=True)
        try:
            return retrying(self._attempt, client, payload)
        except _Retryable as err:
            raise LLMServerError(f"{self.url} failed after {self.retries + 1} attempts "
                                 f"({err})") from None

    def _attempt(self, client: httpx.Client, payload: dict) -> tuple[dict, float]:
        import httpx

        start = time.perf_counter()
        try:
            response = client.post(self.url, json=payload)
        except httpx.TransportError as err:      # connection refused or reset, timeouts
            raise _Retryable(f"{type(err).__name__}: {err}") from None
        except httpx.InvalidURL as err:
            raise LLMServerError(f"{self.url}: not a usable URL ({err})") from None
        seconds = time.perf_counter() - start
        if response.status_code != 200:
            last = f"HTTP {response.status_code}: {response.text[:300]}"
            if response.status_code in RETRY_STATUS:
                raise _Retryable(last, retry_after_seconds(response.headers.get("Retry-After")))
            raise LLMServerError(f"{self.url} answered {last}")
        try:
            body = response.json()
        except ValueError:
            raise LLMServerError(f"{self.url} answered HTTP 200 with a body that is not JSON: "
                                 f"{response.text[:200]!r}") from None
        if not isinstance(body, dict):
            raise LLMServerError(f"{self.url} answered JSON that is not an object: "
                                 f"{str(body)[:200]}")
        return body, seconds
