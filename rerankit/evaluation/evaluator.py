"""``evaluate(qrels, run, measures)``: trec_eval-exact values, aggregate and per query.

By default the semantics are trec_eval 10.0's; ``compat="9"`` gives trec_eval 9.0.x's (the
version inside pytrec_eval). The differences, all reproduced exactly:

* scores: compared as doubles (10.0) or as C floats, so scores equal at float32
  precision tie (9.0.x);
* measures that turn a fraction of R into a rank (iprec_at_recall, Rprec_mult, ...):
  rounding (10.0) or truncation of ``x + 0.9`` and the like (9.0.x), see the kernels;
* ``-c``: 10.0 evaluates a judged query without results as a ranking of one unjudged
  document and prints it with ``-q``; 9.0.x skips it and only divides by all queries.

How each value is printed and summarised (``measures.value_kind``,
``measures.summary_rule``) is trec_eval's: counts are summed, most measures averaged,
gm_* measures geometric means, relstring per query only, runid and num_q summary only.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rerankit.data import arrow_compute as pc
from rerankit.data.arrow import to_numpy
from rerankit.data.qrels import Qrels
from rerankit.data.run import Run
from rerankit.errors import InputFormatError, UnknownMeasureError
from rerankit.evaluation.kernels import KERNELS, MIN_GEO_MEAN, RankingStats
from rerankit.evaluation.kernels_gains import GAIN_FAMILIES, MAX_GAIN_LEVEL
from rerankit.evaluation.measures import (
    BEIR_CUTOFFS,
    FAMILY_ORDER,
    PREFS_FAMILIES,
    SUMMARY_ONLY_RULES,
    Measure,
    parse_measures,
    summary_rule,
    value_kind,
)
from rerankit.evaluation.ranking import JudgedRanking, check_compat, judge_ranking
from rerankit.evaluation.zscores import ZScores

QrelsLike = Qrels | Mapping[str, Mapping[str, int]] | str | Path
RunLike = Run | Mapping[str, Mapping[str, float]] | str | Path
ZScoresLike = ZScores | str | Path

SEMANTICS = {"10": "trec_eval 10.0", "9": "trec_eval 9.0.x"}
DEFAULT_MEASURES = tuple(
    f"{family}.{','.join(str(k) for k in BEIR_CUTOFFS)}"
    for family in ("ndcg_cut", "map_cut", "recall", "P", "recip_rank_cut")
)
BEIR_NAMES = {"ndcg_cut": "NDCG", "map_cut": "MAP", "recall": "Recall", "P": "P",
              "recip_rank_cut": "MRR"}


@dataclass(frozen=True)
class EvaluationResult:
    """Values of every requested measure, per query and aggregated as trec_eval does."""

    measures: list[Measure]
    run_name: str
    query_ids: list[str]                    # queries evaluated (printed by -q), trec_eval order
    values: dict[str, np.ndarray]           # Measure.key -> value per query in query_ids
    aggregate: dict[str, float | str]       # Measure.key -> summary value ("all")
    num_queries: int                        # queries averaged over (trec_eval's num_q)
    ignored_run_queries: list[str] = field(default_factory=list)
    queries_without_results: list[str] = field(default_factory=list)
    compat: str = "10"                      # "10" or "9": whose semantics
    zscores: bool = False                   # values are z-scores (trec_eval -Z)

    @property
    def semantics(self) -> str:
        """The reference these numbers reproduce: "trec_eval 10.0" or "trec_eval 9.0.x"."""
        return SEMANTICS[self.compat]

    @property
    def per_query(self) -> dict[str, dict[str, float | str]]:
        """``{qid: {measure: value}}`` for the evaluated queries (pytrec_eval's form).

        Geometric means (gm_map, gm_bpref) have no per-query value in trec_eval 10.0's
        output; with ``compat="9"`` each query holds the log of max(value, 0.00001), the
        term of the geometric mean, as pytrec_eval (trec_eval 9.0.x) gives it."""
        logs = self.compat == "9" and not self.zscores
        names = [(m.key, value_kind(m.family) == "text", summary_rule(m.family) == "gmean")
                 for m in self.measures if summary_rule(m.family) not in SUMMARY_ONLY_RULES
                 or (logs and summary_rule(m.family) == "gmean")]
        values = {name: np.log(np.maximum(np.asarray(self.values[name], dtype=np.float64),
                                          MIN_GEO_MEAN)) if gmean else self.values[name]
                  for name, _, gmean in names}
        return {
            qid: {name: (str(values[name][i]) if text else float(values[name][i]))
                  for name, text, _ in names}
            for i, qid in enumerate(self.query_ids)
        }

    def __getitem__(self, measure: str) -> float | str:
        """Aggregate value by trec_eval name or alias (``result["nDCG@10"]``)."""
        if measure in self.aggregate:
            return self.aggregate[measure]
        (resolved,) = parse_measures([measure])
        return self.aggregate[resolved.key]

    def beir(self) -> dict[str, float]:
        """Aggregates under BEIR's names (``NDCG@10``, ``MAP@100``, ``Recall@100``, ``P@10``,
        ``MRR@10``) for the cut-off measures that were computed."""
        out = {}
        for m in self.measures:
            if m.family in BEIR_NAMES and m.param is not None:
                out[f"{BEIR_NAMES[m.family]}@{int(m.param)}"] = self.aggregate[m.key]
        return out

    def to_trec_eval(self, per_query: bool = False, summary: bool = True) -> str:
        """Text identical to trec_eval's output for the same measures and options."""
        from rerankit.evaluation.trec_output import format_trec_eval

        return format_trec_eval(self, per_query=per_query, summary=summary)

    def to_json(self, per_query: bool = False) -> str:
        """JSON with the semantics, ``aggregate`` (trec_eval names) and optionally
        ``per_query``."""
        payload: dict = {"run": self.run_name, "semantics": self.semantics,
                         "compat": self.compat, "num_q": self.num_queries,
                         "aggregate": {k: v for k, v in self.aggregate.items() if k != "runid"}}
        if self.zscores:
            payload["zscores"] = True
        if per_query:
            payload["per_query"] = self.per_query
        return json.dumps(payload, indent=2, sort_keys=False)


def evaluate(
    qrels: QrelsLike,
    run: RunLike,
    measures: Iterable[str] | str | None = None,
    relevance_level: int = 1,
    average_complete: bool = False,
    judged_only: bool = False,
    max_docs: int | None = None,
    ignore_identical_ids: bool = False,
    verify: bool = False,
    compat: str | int = "10",
    num_docs_in_coll: int = 0,
    zscores: ZScoresLike | None = None,
) -> EvaluationResult:
    """Evaluate ``run`` against ``qrels``; numbers equal trec_eval's.

    Args:
        qrels: :class:`Qrels`, ``{qid: {docid: grade}}``, or a qrels file path.
        run: :class:`Run`, ``{qid: {docid: score}}``, or a TREC run file path.
        measures: trec_eval names or aliases (see :func:`parse_measures`), a list or one
            string as trec_eval's ``-m`` takes it (``"map"``, ``"P.5,10"``). Default:
            BEIR's table, nDCG / MAP / Recall / P / MRR at k = 1, 3, 5, 10, 100, 1000.
            Checked before any file is read.
        relevance_level: minimum grade counted as relevant (trec_eval ``-l``).
        average_complete: average over every qrels query (trec_eval ``-c``); a query
            without results is evaluated as trec_eval does (see the module docstring).
            Otherwise only queries with results are evaluated.
        judged_only: drop unjudged documents before measuring (trec_eval ``-J``).
        max_docs: evaluate only the top ``max_docs`` documents per query (``-M``).
        ignore_identical_ids: drop documents whose id equals the query id (BEIR's option,
            for corpora where queries are also documents, e.g. ArguAna, Quora).
        verify: recompute every value with trec_eval itself and raise
            :class:`VerificationError` on any difference: for ``compat="10"`` the trec_eval
            10.0 binary (``$TREC_EVAL`` or ``trec_eval`` on PATH), for ``"9"`` pytrec_eval.
        compat: ``"10"`` (trec_eval 10.0, default) or ``"9"`` (trec_eval 9.0.x, pytrec_eval).
        num_docs_in_coll: documents in the collection (trec_eval ``-N``, for utility).
        zscores: a z-scores file or :class:`ZScores` (trec_eval ``-Z``): every value
            becomes a z-score against its (query, measure) mean and standard deviation.
    """
    compat = str(compat)  # 10 or "10"
    check_compat(compat)
    measures = _check_arguments(measures, relevance_level=relevance_level,
                                max_docs=max_docs, num_docs_in_coll=num_docs_in_coll)
    wanted = parse_measures(measures if measures is not None else list(DEFAULT_MEASURES))
    check_qrels_measures(wanted)
    qrels = as_qrels(qrels)
    run = as_run(run)
    table = ZScores.read(zscores) if isinstance(zscores, (str, Path)) else zscores
    _check_gain_levels(wanted, qrels)
    jr = judge_ranking(qrels, run, relevance_level, max_docs, judged_only, ignore_identical_ids,
                       compat, num_docs_in_coll)
    run_queries = set(pc.unique(run.qid).to_pylist())
    matched = jr.has_results
    if not (average_complete and compat == "10"):  # as trec_eval
        require_judged_query(run, qrels, bool(matched.any()), run_queries, jr.query_ids)
    evaluated = np.ones(jr.num_queries, bool) if average_complete and compat == "10" else matched
    if compat == "10":
        _check_first_query_has_a_grade(wanted, jr, evaluated, qrels)
    query_ids = [q for q, keep in zip(jr.query_ids, evaluated, strict=True) if keep]
    averaged_over = jr.num_queries if average_complete else int(matched.sum())
    stats = RankingStats(jr)
    values: dict[str, np.ndarray] = {}
    aggregate: dict[str, float | str] = {}
    for m in wanted:
        rule, kind = summary_rule(m.family), value_kind(m.family)
        if rule == "runid":
            aggregate[m.key] = run.name
            continue
        if rule == "num_q":
            aggregate[m.key] = averaged_over
            continue
        per_query = reset_stand_in(m, KERNELS[m.family](stats, m.param), matched)[evaluated]
        if kind == "text":  # relstring: printed per query only
            values[m.key] = per_query
            continue
        per_query = np.asarray(per_query, dtype=np.float64)
        held = np.log(np.maximum(per_query, MIN_GEO_MEAN)) if rule == "gmean" else per_query
        if table is not None:
            held = table.convert(query_ids, m.name, held)
        values[m.key] = held if table is not None or rule != "gmean" else per_query
        if rule == "none":
            continue
        aggregate[m.key] = _summarise(rule, held, averaged_over)
        if average_complete and m.family == "num_rel":
            # trec_eval -c recounts num_rel over the qrels: every grade > 0, whatever -l says
            aggregate[m.key] = float(np.count_nonzero(jr.qrels_grade > 0))
    result = EvaluationResult(
        measures=wanted,
        run_name=run.name,
        query_ids=query_ids,
        values=values,
        aggregate=aggregate,
        num_queries=averaged_over,
        ignored_run_queries=sorted(run_queries - set(jr.query_ids)),
        queries_without_results=[q for q, has in zip(jr.query_ids, matched, strict=True)
                                 if not has],
        compat=compat,
        zscores=table is not None,
    )
    if verify:
        from rerankit.evaluation.verify import verify_result

        verify_result(result, qrels, run, relevance_level=relevance_level,
                      average_complete=average_complete, judged_only=judged_only,
                      max_docs=max_docs, ignore_identical_ids=ignore_identical_ids,
                      num_docs_in_coll=num_docs_in_coll, zscores=zscores)
    return result


def require_judged_query(run: Run, qrels: Qrels, judged: bool, run_queries: Iterable[str],
                         qrels_queries: Sequence[str]) -> None:
    """Refuse a run none of whose queries the qrels judge (``judged`` False): its values
    would all be 0 or undefined, which is almost always a run and qrels of different
    collections. ``rerankit eval`` and ``compare`` (and so ``report``) refuse it alike."""
    if judged:
        return
    raise InputFormatError(
        run.origin,
        f"no query of the run has judgements in {qrels.where(0)[0]} (run queries e.g. "
        f"{sorted(run_queries)[:3]}, qrels queries e.g. {list(qrels_queries[:3])}): are these "
        "the right files?",
    )


def _check_arguments(measures: Iterable[str] | str | None, **counts: int | None
                     ) -> list[str] | str | None:
    """Refuse arguments that would otherwise fail deep inside (or be silently truncated):
    an empty or non-text measure list, and a count that is not an integer (None allowed
    for ``max_docs`` only). The message names the parameter. Returns the measures as given,
    an iterable read into a list (a generator can be read only once)."""
    if measures is not None and not isinstance(measures, str):
        if isinstance(measures, Mapping) or not isinstance(measures, Iterable):
            raise TypeError(f"measures must be a measure name or a list of them, got "
                            f"{type(measures).__name__}")
        measures = list(measures)
        if not measures:
            raise ValueError("measures is empty: name at least one measure, or pass None "
                             "for the default set")
        odd = [m for m in measures if not isinstance(m, str)]
        if odd:
            raise TypeError(f"measures must be strings, got {odd[0]!r} "
                            f"({type(odd[0]).__name__})")
    for name, value in counts.items():
        if value is None and name == "max_docs":
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    return measures


def check_qrels_measures(wanted: list[Measure]) -> None:
    """Refuse preference and judgment-group measures, which plain qrels cannot give
    (trec_eval: "Can't calculate measure"), naming the judgement format they need."""
    for m in wanted:
        if m.family in PREFS_FAMILIES:
            needs = "judgment groups (-R qrels_jg)" if m.family.endswith("_avgjg") else \
                "preferences (-R prefs or -R qrels_prefs)"
            raise UnknownMeasureError(
                f"measure '{m.name}' needs judgements given as {needs}; plain qrels "
                f"cannot give it (trec_eval: \"Can't calculate measure '{m.family}'\")")


def _check_gain_levels(wanted: list[Measure], qrels: Qrels) -> None:
    """Refuse a grade the gain-based measures cannot walk to (they build a table of every
    level up to the largest grade, as trec_eval does), naming its file and line."""
    if not any(m.family in GAIN_FAMILIES for m in wanted):
        return
    too_large = np.flatnonzero(qrels.grade > MAX_GAIN_LEVEL)
    if too_large.size:
        row = int(too_large[0])
        source, line = qrels.where(row)
        raise InputFormatError(
            source, f"relevance grade {qrels.grade[row]} (query '{qrels.qid[row].as_py()}', "
            f"document '{qrels.docid[row].as_py()}') is too large for the gain-based measures "
            f"(at most {MAX_GAIN_LEVEL}): like trec_eval, they walk every level up to the "
            "largest grade", line)


def _check_first_query_has_a_grade(wanted: list[Measure], jr: JudgedRanking,
                                   evaluated: np.ndarray, qrels: Qrels) -> None:
    """Refuse what trec_eval 10.0 refuses (exit 4, "Can't calculate measure"): when the
    first query it evaluates has only negative grades, its table of relevance levels is
    sized 0 and, never allocated before, comes back NULL. Every measure but runid and num_q
    builds that table; later such queries reuse an earlier table and are evaluated. The
    message names the qrels file and the query's first line there."""
    families = [m.family for m in wanted if m.family not in ("runid", "num_q")]
    first = np.flatnonzero(evaluated)[:1]
    if not families or first.size == 0:
        return
    grades = jr.qrels_grade[jr.qrels_query == first[0]]
    if grades.max() >= 0:
        return
    family = min(families, key=FAMILY_ORDER.__getitem__)
    query = jr.query_ids[first[0]]
    source, line = qrels.where(int(np.argmax(to_numpy(pc.equal(qrels.qid, query)))))
    raise InputFormatError(
        source, f"query '{query}', the first one evaluated, has only "
        f"negative grades (pooled, unjudged): trec_eval 10.0 refuses this (\"Can't calculate "
        f"measure '{family}'\"); give it a grade of 0 or more, or remove its lines", line)


# Values trec_eval 10.0 zeroes after evaluating its -c stand-in ranking, found by their
# printed name: a measure given parameters (``utility_2,-1,0,0``) keeps its stand-in value.
# num_ret and unj (reset by prefix) are zero already: the kernels count no documents there.
_STAND_IN_RESETS = {"utility": 0.0, "relstring": "''", "rbp_resid": 0.0}


def reset_stand_in(m: Measure, values: np.ndarray, has_results: np.ndarray) -> np.ndarray:
    """``values`` with trec_eval's reset applied to queries without results (``-c``)."""
    if m.name not in _STAND_IN_RESETS or has_results.all():
        return values
    return np.where(has_results, values, _STAND_IN_RESETS[m.name])


def _summarise(rule: str, held: np.ndarray, averaged_over: int) -> float:
    """trec_eval's summary of the per-query values it accumulated (in qid order).

    Sums run sequentially from 0.0, as trec_eval's ``+=`` loop does (``np.cumsum``, not
    ``np.sum``, whose pairwise order can differ in the last bit). ``held`` holds logs for
    geometric means; queries averaged over but not evaluated (``-c`` in 9.0.x) add
    log(MIN_GEO_MEAN) each, as trec_eval 9.0.x does, and nothing to sums and means.
    """
    total = float(np.cumsum(held)[-1]) if held.size else 0.0
    if rule == "sum":
        return total
    if averaged_over == 0:
        return total
    if rule == "gmean":
        total += (averaged_over - held.size) * math.log(MIN_GEO_MEAN)
        return math.exp(total / averaged_over)
    return total / averaged_over


def as_qrels(qrels: QrelsLike) -> Qrels:
    """Qrels from a Qrels object, a ``{qid: {docid: grade}}`` dict or a file path."""
    if isinstance(qrels, Qrels):
        return qrels
    if isinstance(qrels, (str, Path)):
        return Qrels.read(qrels)
    return Qrels.from_dict(qrels)


def as_run(run: RunLike) -> Run:
    """A Run from a Run object, a ``{qid: {docid: score}}`` dict or a TREC run file path."""
    if isinstance(run, Run):
        return run
    if isinstance(run, (str, Path)):
        return Run.read_trec(run)
    return Run.from_dict(run)
