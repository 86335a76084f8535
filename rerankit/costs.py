"""Per-call cost records: every model call a backend or reranker makes leaves one record
(calls, tokens in and out, seconds), and whoever reports costs (a reranker's stats, the
pipeline's ledger) adds up the records it takes, instead of diffing shared counters."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class CallRecord:
    """One model call (or ``calls`` batched calls reported together); a sum of records is
    a record too."""

    tokens_in: int = 0
    tokens_out: int = 0
    seconds: float = 0.0
    calls: int = 1

    def plus(self, other: CallRecord) -> CallRecord:
        return CallRecord(self.tokens_in + other.tokens_in, self.tokens_out + other.tokens_out,
                          self.seconds + other.seconds, self.calls + other.calls)

    @classmethod
    def total(cls, records: Iterable[CallRecord]) -> CallRecord:
        """The sum of ``records`` (no calls when empty)."""
        summed = cls(calls=0)
        for record in records:
            summed = summed.plus(record)
        return summed


class CallLog:
    """Records collected since they were last taken, and the running total."""

    def __init__(self) -> None:
        self._records: list[CallRecord] = []
        self._total = CallRecord(calls=0)

    def add(self, tokens_in: int = 0, tokens_out: int = 0, seconds: float = 0.0,
            calls: int = 1) -> None:
        record = CallRecord(int(tokens_in), int(tokens_out), float(seconds), int(calls))
        self._records.append(record)
        self._total = self._total.plus(record)

    @property
    def total(self) -> CallRecord:
        """Everything recorded since the log was made (taking does not reset it)."""
        return self._total

    def take(self) -> list[CallRecord]:
        """The records since the last take, removed from the log."""
        taken, self._records = self._records, []
        return taken
