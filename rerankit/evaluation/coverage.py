"""Which judged queries each of several runs answers: the one check behind ``rerankit
compare`` and ``rerankit report`` before runs are compared query by query.

A paired test needs every run's value on the same queries. :func:`coverage` refuses runs
that cannot be compared (a run no query of which is judged, with the evaluator's own
message; runs with no judged query in common) and says how many judged queries each run
lacks, so that the caller can state how it treats them: ``compare`` evaluates every judged
query and counts a missing one as 0 (trec_eval ``-c``), ``report`` keeps only the queries
every run answered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rerankit.data.qrels import Qrels
from rerankit.data.run import Run
from rerankit.errors import InputFormatError
from rerankit.evaluation.evaluator import require_judged_query


@dataclass(frozen=True)
class Coverage:
    """Per run (in the order given), the judged queries it has results for."""

    judged: list[str]              # the qrels' queries, in the qrels' order
    names: list[str]
    answered: list[frozenset[str]]

    @property
    def common(self) -> list[str]:
        """The judged queries every run answered, in the qrels' order."""
        shared = frozenset.intersection(*self.answered)
        return [q for q in self.judged if q in shared]

    @property
    def complete(self) -> bool:
        """Whether every run answered every judged query."""
        return all(len(a) == len(self.judged) for a in self.answered)

    def lacking(self) -> str:
        """``name lacks n`` for each run that misses judged queries (``bm25 lacks 49``)."""
        return ", ".join(f"{name} lacks {len(self.judged) - len(a)}"
                         for name, a in zip(self.names, self.answered, strict=True)
                         if len(a) < len(self.judged))

    def answered_counts(self) -> str:
        """``name n`` for every run: the judged queries it answered."""
        return ", ".join(f"{name} {len(a)}" for name, a in zip(self.names, self.answered,
                                                                strict=True))


def coverage(qrels: Qrels, runs: Sequence[Run], names: Sequence[str] | None = None
             ) -> Coverage:
    """The judged queries each run answers; refuses a run without any (as ``rerankit
    eval`` does) and runs that share no judged query."""
    names = list(names) if names is not None else [r.name for r in runs]
    judged = list(qrels.query_ids)
    judged_set = frozenset(judged)
    answered = []
    for run in runs:
        run_queries = set(run.query_ids)
        mine = frozenset(run_queries & judged_set)
        require_judged_query(run, qrels, bool(mine), run_queries, judged)
        answered.append(mine)
    result = Coverage(judged, names, answered)
    if not result.common:
        raise InputFormatError(
            runs[0].origin,
            f"the runs {', '.join(names)} have no judged query in common in {qrels.name} "
            f"({result.answered_counts()} of {len(judged)} judged queries answered): a "
            "paired comparison needs queries that every run answered")
    return result
