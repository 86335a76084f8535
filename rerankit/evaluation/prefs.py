"""``evaluate_preferences``: trec_eval 10.0's ``-R prefs``, ``-R qrels_prefs`` and
``-R qrels_jg`` evaluations, with its numbers and its text output.

* ``prefs`` / ``qrels_prefs`` judgements (see :mod:`rerankit.evaluation.prefs_files`) are
  measured by the ``prefs_*`` families (:mod:`rerankit.evaluation.prefs_counts`);
  nicknames ``all_prefs`` (all 14) and ``prefs`` (trec_eval's official six).
* ``qrels_jg`` judgements by ``map_avgjg``, ``P_avgjg`` and ``Rprec_mult_avgjg``
  (:mod:`rerankit.evaluation.prefs_jg`); nickname ``qrels_jg``.

``runid`` and ``num_q`` go with both. Asking for a measure the judgements cannot give (e.g.
``map`` from prefs) is an error, as in trec_eval. As with :func:`evaluate`, only queries
with judgements are evaluated, and a judged query without results is left out (listed in
``queries_without_results``) unless ``average_complete`` (``-c``); trec_eval 10.0 stops
with an error on such a query instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rerankit.errors import InputFormatError, UnknownMeasureError
from rerankit.evaluation.evaluator import EvaluationResult, RunLike, ZScoresLike, as_run
from rerankit.evaluation.measures import LONG_MAX, parse_measures
from rerankit.evaluation.prefs_counts import PREFS_FAMILIES, preference_values
from rerankit.evaluation.prefs_files import (
    PREFS_FORMATS,
    GroupJudgements,
    read_group_judgements,
)
from rerankit.evaluation.prefs_jg import (
    JG_FAMILIES,
    JudgmentGroupStats,
    map_avgjg,
    p_avgjg,
    rprec_mult_avgjg,
)
from rerankit.evaluation.prefs_ranking import RankedRun, rank_run
from rerankit.evaluation.trec_output import format_value
from rerankit.evaluation.zscores import ZScores

ORDER = ("runid", "num_q", *PREFS_FAMILIES, *JG_FAMILIES)
COUNT_FAMILIES = {"num_q", "prefs_num_prefs_poss", "prefs_num_prefs_ful",
                  "prefs_num_prefs_ful_ret"}
SUMMARY_ONLY = {"runid", "num_q"}
DEFAULT_PARAMS: dict[str, tuple[float, ...]] = {
    "P_avgjg": (5, 10, 15, 20, 30, 100, 200, 500, 1000),
    "Rprec_mult_avgjg": (0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0),
}
NICKNAMES = {
    "all_prefs": ("runid", "num_q", *PREFS_FAMILIES),
    "prefs": ("runid", "num_q", "prefs_num_prefs_poss", "prefs_num_prefs_ful",
              "prefs_num_prefs_ful_ret", "prefs_simp", "prefs_pair", "prefs_avgjg"),
    "qrels_jg": ("runid", "num_q", *JG_FAMILIES),
}
#: What each judgement format can measure, and the default set (trec_eval has none: its
#: default, "official", needs ordinary qrels).
FORMAT_FAMILIES = {"prefs": NICKNAMES["all_prefs"], "qrels_prefs": NICKNAMES["all_prefs"],
                   "qrels_jg": NICKNAMES["qrels_jg"]}
DEFAULT_MEASURES = {"prefs": "prefs", "qrels_prefs": "prefs", "qrels_jg": "qrels_jg"}


@dataclass(frozen=True)
class GroupMeasure:
    """A measure over judgment groups; ``name`` is trec_eval's output name. ``P_avgjg``'s
    cut-off is an exact int (as a float, one past 2**53 would take its nearest double's
    name); ``Rprec_mult_avgjg``'s multiple is a float."""

    family: str
    param: int | float | None = None

    @property
    def name(self) -> str:
        if self.param is None:
            return self.family
        if self.family == "Rprec_mult_avgjg":
            return f"{self.family}_{self.param:3.2f}"
        return f"{self.family}_{self.param}"

    @property
    def value_kind(self) -> str:
        """How trec_eval prints it: "text" (%s), "count" (%ld) or "float" (%6.4f)."""
        if self.family == "runid":
            return "text"
        return "count" if self.family in COUNT_FAMILIES else "float"

    @property
    def sort_key(self) -> tuple[int, int | float]:
        return ORDER.index(self.family), -1.0 if self.param is None else self.param


def parse_group_measures(specs: Sequence[str] | str, rel_format: str) -> list[GroupMeasure]:
    """Resolve measure names for ``rel_format``, deduplicated, in trec_eval's output order.

    Accepted: nicknames (``all_prefs``, ``prefs``, ``qrels_jg``), families (``prefs_simp``,
    ``P_avgjg`` with its default cut-offs), families with parameters (``P_avgjg.5,10``,
    ``Rprec_mult_avgjg.0.5,1``) and output names (``P_avgjg_10``,
    ``Rprec_mult_avgjg_1.00``).
    """
    if isinstance(specs, str):
        specs = [specs]
    allowed = FORMAT_FAMILIES[rel_format]
    offer = (f"'{rel_format}' judgements give: {', '.join(allowed)} (nicknames "
             f"{', '.join(n for n, f in NICKNAMES.items() if set(f) <= set(allowed))})")
    measures: set[GroupMeasure] = set()
    for spec in specs:
        parsed = _parse_one(spec.strip())
        if parsed is None:
            raise UnknownMeasureError(f"measure '{spec}' {_why_unknown(spec.strip())}; {offer}")
        for m in parsed:
            if m.family not in allowed:
                raise UnknownMeasureError(f"measure '{m.name}' cannot be computed from "
                                          f"{offer}")
            measures.add(m)
    return sorted(measures, key=lambda m: m.sort_key)


def _why_unknown(spec: str) -> str:
    try:
        parse_measures([spec])
    except UnknownMeasureError:
        return "is not a trec_eval measure"
    return "needs ordinary qrels (-R qrels)"


def _parse_one(spec: str) -> list[GroupMeasure] | None:
    """The measures ``spec`` names, or None when it names no group measure."""
    if spec in NICKNAMES:
        return [m for family in NICKNAMES[spec] for m in _defaults(family)]
    if spec in ORDER:
        return _defaults(spec)
    family, dot, params = spec.partition(".")
    if dot and family in DEFAULT_PARAMS:
        values = [_param(family, p, spec) for p in params.split(",")]
        if len(set(values)) < len(values):
            raise UnknownMeasureError(f"duplicate parameters in measure '{spec}'")
        return [GroupMeasure(family, v) for v in values]
    for family in DEFAULT_PARAMS:
        if spec.startswith(family + "_"):
            return [GroupMeasure(family, _param(family, spec[len(family) + 1:], spec))]
    return None


def _param(family: str, text: str, spec: str) -> int | float:
    """A parameter: ``P_avgjg``'s cut-off as the exact integer written (``5.0`` is 5),
    saturated to a C long as trec_eval's ``atol`` saturates it, a multiple as a float."""
    try:
        value = float(text)
    except ValueError:
        raise UnknownMeasureError(f"bad parameter '{text}' in measure '{spec}'") from None
    if not np.isfinite(value):
        raise UnknownMeasureError(f"bad parameter '{text}' in measure '{spec}'")
    if family == "P_avgjg":
        if value < 1 or value != int(value):
            raise UnknownMeasureError(f"cut-off must be a positive integer, got '{spec}'")
        return min(int(text) if text.strip().isdigit() else int(value), LONG_MAX)
    return value


def _defaults(family: str) -> list[GroupMeasure]:
    if family in DEFAULT_PARAMS:
        return [GroupMeasure(family, int(p) if family == "P_avgjg" else float(p))
                for p in DEFAULT_PARAMS[family]]
    return [GroupMeasure(family)]


@dataclass(frozen=True)
class PreferenceResult(EvaluationResult):
    """An :class:`EvaluationResult` whose measures are :class:`GroupMeasure`s, which the
    general measure registry does not list: printing and lookups go through them."""

    @property
    def per_query(self) -> dict[str, dict[str, float]]:
        names = [m.name for m in self.measures if m.family not in SUMMARY_ONLY]
        return {qid: {name: float(self.values[name][i]) for name in names}
                for i, qid in enumerate(self.query_ids)}

    def to_trec_eval(self, per_query: bool = False, summary: bool = True) -> str:
        return format_group_measures(self, per_query=per_query, summary=summary)

    def __getitem__(self, measure: str) -> float | str:
        if measure in self.aggregate:
            return self.aggregate[measure]
        parsed = _parse_one(measure)
        if parsed is None or len(parsed) != 1 or parsed[0].name not in self.aggregate:
            raise KeyError(f"measure '{measure}' was not computed")
        return self.aggregate[parsed[0].name]


def format_group_measures(result: EvaluationResult, per_query: bool, summary: bool) -> str:
    """trec_eval's text for group measures (``%-22s\t%s\t%6.4f``, counts as ``%ld``; with
    z-scores ``Z`` + name and ``%6.4f`` for every number), through the general
    :func:`~rerankit.evaluation.trec_output.format_value`."""
    lines: list[str] = []
    if per_query:
        for i, qid in enumerate(result.query_ids):
            for m in result.measures:
                if m.family not in SUMMARY_ONLY:
                    lines.append(_line(m, qid, result.values[m.name][i], result.zscores))
    if summary:
        for m in result.measures:
            lines.append(_line(m, "all", result.aggregate[m.name], result.zscores))
    return "".join(lines)


def _line(m: GroupMeasure, qid: str, value: float | str, zscores: bool) -> str:
    z = "Z" if zscores and m.value_kind != "text" else ""
    text = format_value(m.value_kind, value, zscores)
    return f"{z}{m.name:<22}\t{qid}\t{text}\n"


def evaluate_preferences(
    rel_path: str | Path,
    run: RunLike,
    measures: Sequence[str] | str | None = None,
    rel_format: str = "prefs",
    *,
    relevance_level: int = 1,
    average_complete: bool = False,
    judged_only: bool = False,
    max_docs: int | None = None,
    num_docs_in_coll: int = 0,
    zscores: ZScoresLike | None = None,
    compat: str = "10",
    verify: bool = False,
) -> PreferenceResult:
    """Evaluate ``run`` against judgement groups; numbers and text equal trec_eval 10.0's
    ``trec_eval -R rel_format``.

    Args:
        rel_path: a ``prefs``, ``qrels_prefs`` (a TREC qrels file) or ``qrels_jg`` file.
        run: :class:`Run`, ``{qid: {docid: score}}`` or a TREC run file path.
        measures: names, families or nicknames (see :func:`parse_group_measures`); default
            ``prefs`` for the preference formats, ``qrels_jg`` for qrels_jg.
        rel_format: "prefs", "qrels_prefs" or "qrels_jg" (trec_eval ``-R``).
        relevance_level: minimum grade counted as relevant (``-l``; qrels_jg only, as in
            trec_eval the preference measures ignore it).
        average_complete: evaluate every judged query, one without results through
            trec_eval's stand-in ranking, and average over all of them (``-c``).
        judged_only: qrels_jg only: rank only judged documents (``-J``; the preference
            measures ignore it, as in trec_eval).
        max_docs: evaluate only the top ``max_docs`` documents per query (``-M``; 0 as
            trec_eval: nothing counts as retrieved).
        num_docs_in_coll: trec_eval ``-N``; accepted and, as in trec_eval, unused here.
        zscores: a z-scores file or :class:`ZScores` (``-Z``): every per-query value
            becomes a z-score against its (query, measure) mean and standard deviation.
        compat: "10" only: trec_eval 9.0.x's preference semantics are not reproduced.
        verify: run the trec_eval 10.0 binary (``$TREC_EVAL`` or on PATH) on the same input
            and raise :class:`VerificationError` unless every line it prints is rerankit's.
    """
    if compat != "10":
        raise ValueError(f"-R {rel_format} follows trec_eval 10.0 only (compat '10'), got "
                         f"compat '{compat}'")
    if num_docs_in_coll < 0:
        raise ValueError(f"num_docs_in_coll must be >= 0, got {num_docs_in_coll}")
    if rel_format not in PREFS_FORMATS:
        raise ValueError(f"rel_format must be one of {', '.join(PREFS_FORMATS)}, got "
                         f"'{rel_format}' (ordinary qrels: rerankit.evaluation.evaluate)")
    if relevance_level < 0:
        raise ValueError(f"relevance level must be >= 0, got {relevance_level}")
    if measures is None:
        measures = DEFAULT_MEASURES[rel_format]
    wanted = parse_group_measures(measures if isinstance(measures, str) else list(measures),
                                  rel_format)
    table = ZScores.read(zscores) if isinstance(zscores, (str, Path)) else zscores
    judgements = read_group_judgements(rel_path, rel_format)
    run = as_run(run)
    if len(run) == 0:
        raise InputFormatError(run.origin, "run is empty")
    ties = "descending" if rel_format == "qrels_jg" else "ascending"
    ranked = rank_run(run, judgements.query_ids, ties, max_docs, average_complete)
    evaluated = np.flatnonzero(ranked.has_results | average_complete)
    if evaluated.size == 0:
        raise InputFormatError(
            run.origin, f"no query of the run has judgements in {judgements.source} (run "
            f"queries e.g. {ranked.ignored_queries[:3]}, judged queries e.g. "
            f"{judgements.query_ids[:3]}): are these the right files?")
    per_query = _per_query_values(wanted, judgements, ranked, evaluated, relevance_level,
                                  judged_only)
    query_ids = judgements.query_ids
    evaluated_ids = [query_ids[q] for q in evaluated.tolist()]
    if table is not None:
        per_query = {name: table.convert(evaluated_ids, name, v) for name, v in per_query.items()}
    aggregate: dict[str, float] = {}
    for m in wanted:
        if m.family == "runid":
            aggregate["runid"] = run.name
        elif m.family == "num_q":
            aggregate["num_q"] = int(evaluated.size)
        else:
            total = float(np.cumsum(per_query[m.name])[-1])   # sequential, as trec_eval
            aggregate[m.name] = total if m.family in COUNT_FAMILIES else total / evaluated.size
    result = PreferenceResult(
        measures=wanted,
        run_name=run.name,
        query_ids=evaluated_ids,
        values=per_query,
        aggregate=aggregate,
        num_queries=int(evaluated.size),
        ignored_run_queries=ranked.ignored_queries,
        queries_without_results=[q for q, has in zip(query_ids, ranked.has_results,
                                                     strict=True) if not has],
        zscores=table is not None,
    )
    if verify:
        from rerankit.evaluation.prefs_verify import verify_with_trec_eval

        options = [f"-l{relevance_level}", *(["-c"] if average_complete else []),
                   *(["-J"] if judged_only else []),
                   *([f"-M{max_docs}"] if max_docs is not None else []),
                   *([f"-N{num_docs_in_coll}"] if num_docs_in_coll else [])]
        verify_with_trec_eval(result, judgements, run, options, table)
    return result


def _per_query_values(wanted: list[GroupMeasure], judgements: GroupJudgements,
                      ranked: RankedRun, evaluated: np.ndarray, relevance_level: int,
                      judged_only: bool) -> dict[str, np.ndarray]:
    """Each requested measure's value per evaluated query (before z-scores)."""
    computed = [m for m in wanted if m.family not in SUMMARY_ONLY]
    if not computed:
        return {}
    if judgements.rel_format != "qrels_jg":
        rnonrel = any(m.family.startswith("prefs_avgjg_Rnonrel") for m in computed)
        by_family = preference_values(judgements, ranked, evaluated, rnonrel)
        return {m.name: by_family[m.family] for m in computed}
    stats = JudgmentGroupStats(judgements, ranked, relevance_level, judged_only)
    values = {}
    for m in computed:
        if m.family == "map_avgjg":
            per_group = map_avgjg(stats)
        elif m.family == "P_avgjg":
            per_group = p_avgjg(stats, int(m.param))
        else:
            per_group = rprec_mult_avgjg(stats, float(m.param))
        values[m.name] = stats.per_query(per_group, evaluated)
    return values
