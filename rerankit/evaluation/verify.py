"""Cross-check rerankit's per-query values with trec_eval's C code, through pytrec_eval.

Opt-in (``evaluate(..., verify=True)``, ``rerankit eval --verify``): it converts the run
to dicts, so it costs what pytrec_eval costs, and it turns any disagreement into an
error instead of a number nobody checked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rerankit.errors import VerificationError

if TYPE_CHECKING:
    from rerankit.data.qrels import Qrels
    from rerankit.data.run import Run
    from rerankit.evaluation.evaluator import EvaluationResult

_NOT_IN_PYTREC = {"runid", "num_q"}


def verify_with_trec_eval(result: EvaluationResult, qrels: Qrels, run: Run,
                          relevance_level: int, judged_only: bool) -> int:
    """Compare every per-query value; return how many were checked, raise on a mismatch.

    ``run`` must already be cut to ``max_docs`` and stripped of identical ids, which
    pytrec_eval does not do itself. ``recip_rank_cut_k`` is checked as pytrec_eval's
    ``recip_rank`` where that is at least 1/k, and 0 otherwise (the same quantity).
    """
    import pytrec_eval

    families = {m.family for m in result.measures} - _NOT_IN_PYTREC
    pytrec_measures = {("recip_rank" if f == "recip_rank_cut" else
                        "map" if f == "gm_map" else f) for f in families}
    evaluator = pytrec_eval.RelevanceEvaluator(
        qrels.to_dict(), pytrec_measures, relevance_level=relevance_level,
        judged_docs_only_flag=judged_only)
    reference = evaluator.evaluate(run.to_dict())
    checked = 0
    for qid, ours in result.per_query.items():
        theirs = reference[qid]
        for measure in result.measures:
            if measure.family in _NOT_IN_PYTREC or measure.family == "gm_map":
                continue
            expected = _reference_value(measure, theirs)
            if ours[measure.name] != expected:
                raise VerificationError(
                    f"{measure.name} for query '{qid}': rerankit {ours[measure.name]!r}, "
                    f"trec_eval {expected!r}")
            checked += 1
    return checked


def _reference_value(measure, values: dict[str, float]) -> float:
    if measure.family == "recip_rank_cut":
        rr = values["recip_rank"]
        return rr if rr * measure.param >= 1.0 else 0.0
    return values[measure.name]
