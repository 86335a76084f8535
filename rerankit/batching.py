"""Length-bucketed batching: inputs sorted by token length (longest first) so each padded
batch holds inputs of similar length, results written back in input order.

Padding costs compute in proportion to the longest input of a batch; sorting first removes
most of it. Scores change only in the last float bits (padding positions are masked)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def length_batches(lengths: Sequence[int], batch_size: int) -> list[np.ndarray]:
    """Positions of the inputs, batched longest first (ties keep input order): write each
    batch's results to ``out[positions]`` to restore the input order."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = np.argsort(-np.asarray(lengths, dtype=np.int64), kind="stable")
    return [order[start:start + batch_size] for start in range(0, len(order), batch_size)]
