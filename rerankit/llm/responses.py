"""Reading OpenAI-style chat-completion responses (what OpenAI-compatible servers and
llama-cpp-python's ``create_chat_completion`` both return)."""

from __future__ import annotations

import numpy as np

from rerankit.errors import LLMServerError


def first_choice(body: dict, where: str) -> dict:
    """The first choice of a chat-completion response; an error naming ``where`` if none."""
    try:
        return body["choices"][0]
    except (KeyError, IndexError, TypeError):
        raise LLMServerError(f"{where}: response has no choices: {str(body)[:200]}") from None


def message_text(body: dict, where: str) -> str:
    """The generated text of the first choice ("" when the server sent none)."""
    message = first_choice(body, where).get("message") or {}
    return message.get("content") or ""


def option_logprobs(choice: dict, options: list[str], where: str) -> list[float]:
    """Log-probabilities of each option as the first token, from an OpenAI-style choice.

    An option outside the returned top tokens gets the lowest returned log-probability (an
    upper bound); a response without log-probabilities is an error, never a silent 0.5.
    """
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
