"""``evaluate_preferences(..., verify=True)``: the same evaluation by the trec_eval 10.0
binary (``$TREC_EVAL``, else ``trec_eval`` on PATH), whose every printed line must equal
rerankit's.

The judgements and the run are written to a temporary folder (levels and scores in their
shortest exact form); only the evaluated queries' judgements are written, because
trec_eval 10.0 stops at a judged query without results unless ``-c``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from rerankit.data import arrow_compute as pc
from rerankit.errors import VerificationError
from rerankit.evaluation.verify import find_trec_eval, run_tag, run_trec_eval, zscores_file

if TYPE_CHECKING:
    from rerankit.data.run import Run
    from rerankit.evaluation.evaluator import EvaluationResult
    from rerankit.evaluation.prefs_files import GroupJudgements
    from rerankit.evaluation.zscores import ZScores



def verify_with_trec_eval(result: EvaluationResult, judgements: GroupJudgements, run: Run,
                          options: list[str], zscores: ZScores | None) -> int:
    """Run trec_eval ``-q -R <format>`` with ``options`` and the result's measures; raise
    :class:`VerificationError` at the first line that differs. Returns the lines checked."""
    binary = find_trec_eval()
    tag = run_tag(run.name)
    with tempfile.TemporaryDirectory(prefix="rerankit-verify-") as folder:
        rel_path, run_path = Path(folder) / "judgements", Path(folder) / "run"
        rel_path.write_text(_judgement_text(judgements, set(result.query_ids)))
        run.write_trec(run_path, tag=tag)
        command = [binary, "-q", "-R", judgements.rel_format, *options,
                   *(f"-m{spec}" for spec in _measure_specs(result))]
        if zscores is not None:
            command.append(f"-Z{zscores_file(zscores, Path(folder))}")
        printed = run_trec_eval([*command, str(rel_path), str(run_path)])
    ours = result.to_trec_eval(per_query=True).splitlines()
    theirs = printed.splitlines()
    for mine, other in zip(ours, theirs, strict=False):
        if mine != other and not _same_runid(mine, other, result.run_name, tag):
            name, qid, value = mine.split("\t")
            raise VerificationError(f"{name.strip()} for query '{qid}': rerankit {value}, "
                                    f"trec_eval printed {other!r}")
    if len(ours) != len(theirs):
        raise VerificationError(f"rerankit printed {len(ours)} lines, trec_eval {len(theirs)}")
    return len(ours)


def _judgement_text(judgements: GroupJudgements, queries: set[str]) -> str:
    keep = pc.is_in(judgements.qid, value_set=pa.array(sorted(queries), type=pa.string()))
    level = pa.array(judgements.level)
    if judgements.rel_format == "qrels_jg":
        level = pc.cast(level, pa.int64())
    fields = [judgements.qid, judgements.group]
    if judgements.rel_format == "prefs":
        fields.append(judgements.subgroup)
    fields += [judgements.docid, pc.cast(level, pa.string())]
    lines = pc.binary_join_element_wise(*(pc.filter(f, keep) for f in fields), " ")
    return "".join(f"{line}\n" for line in lines.to_pylist())


def _measure_specs(result: EvaluationResult) -> list[str]:
    """trec_eval -m arguments: one per family, with its parameters."""
    params: dict[str, list[str]] = {}
    for m in result.measures:
        values = params.setdefault(m.family, [])
        if m.param is not None:
            values.append(repr(float(m.param)) if m.family == "Rprec_mult_avgjg"
                          else str(int(m.param)))
    return [family + ("." + ",".join(values) if values else "")
            for family, values in params.items()]


def _same_runid(mine: str, other: str, name: str, tag: str) -> bool:
    """The runid line differs only because the run's name cannot be a TREC run tag."""
    return (tag != name and mine.startswith("runid") and other.startswith("runid")
            and mine.endswith(f"\t{name}") and other.endswith(f"\t{tag}"))
