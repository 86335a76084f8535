"""Cross-check rerankit's values with trec_eval itself.

Opt-in (``evaluate(..., verify=True)``, ``rerankit eval --verify``), and as slow as the
reference, but it turns any disagreement into an error instead of a number nobody checked:

* ``compat="10"``: the trec_eval 10.0 binary (``$TREC_EVAL``, else ``trec_eval`` on PATH)
  runs on the same qrels and run, written to a temporary folder, with the same options;
  every line it prints (per query and summary) must equal rerankit's;
* ``compat="9"``: pytrec_eval (trec_eval 9.0.x's C code) recomputes every per-query value,
  which must be identical as a double.

``recip_rank_cut_k`` (rerankit's MRR@k, not a trec_eval measure) is checked per query as
trec_eval's ``recip_rank`` where ``success_k`` is 1, and 0 otherwise: the same quantity (its
"all" line is the mean of those, computed as every other mean that is checked).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from rerankit.data import arrow_compute as pc
from rerankit.data.arrow import to_numpy
from rerankit.errors import VerificationError

if TYPE_CHECKING:
    from rerankit.data.qrels import Qrels
    from rerankit.data.run import Run
    from rerankit.evaluation.evaluator import EvaluationResult
    from rerankit.evaluation.zscores import ZScores

_NOT_IN_PYTREC = {"runid", "num_q"}
# Families whose per-query values pytrec_eval returns under rerankit's names.
_PYTREC_CHECKS = {"num_ret", "num_rel", "num_rel_ret", "map", "gm_map", "Rprec", "bpref",
                  "recip_rank", "iprec_at_recall", "P", "recall", "ndcg", "ndcg_cut", "map_cut",
                  "success", "recip_rank_cut"}
_DERIVED = "recip_rank_cut"


def verify_result(result: EvaluationResult, qrels: Qrels, run: Run, *, relevance_level: int,
                  average_complete: bool, judged_only: bool, max_docs: int | None,
                  ignore_identical_ids: bool, num_docs_in_coll: int,
                  zscores: ZScores | str | Path | None) -> int:
    """Check ``result`` with the reference for its semantics; return the values checked."""
    rounded = [m.key for m in result.measures if m.key != m.name]
    if rounded:
        # trec_eval prints such a parameter rounded, so its output cannot tell which value
        # a line belongs to: refused rather than compared against another parameter's
        raise VerificationError(
            f"--verify cannot check {', '.join(rounded)}: trec_eval prints the parameter "
            "rounded to 2 decimals; verify with a parameter of at most 2 decimals")
    if ignore_identical_ids:
        same = pc.equal(pc.cast(run.qid, pa.string()), pc.cast(run.docid, pa.string()))
        run = run.take(np.flatnonzero(~to_numpy(same)))
    if result.compat == "9":
        if zscores is not None or num_docs_in_coll or average_complete:
            raise VerificationError(
                "verify with compat 9 (pytrec_eval) checks per-query values without -c, -N "
                "or -Z; use compat 10 to check those with the trec_eval 10.0 binary")
        checked_run = run.top_k(max_docs) if max_docs is not None and max_docs > 0 else run
        return verify_with_pytrec_eval(result, qrels, checked_run, relevance_level,
                                       judged_only)
    options = [f"-l{relevance_level}"]
    options += ["-c"] if average_complete else []
    options += ["-J"] if judged_only else []
    options += [f"-M{max_docs}"] if max_docs is not None else []
    options += [f"-N{num_docs_in_coll}"] if num_docs_in_coll else []
    return verify_with_binary(result, qrels, run, options, zscores)


def find_trec_eval() -> str:
    """Path of a trec_eval 10.x binary, or :class:`VerificationError` saying what is needed."""
    candidate = os.environ.get("TREC_EVAL") or shutil.which("trec_eval")
    if not candidate or not Path(candidate).is_file():
        raise VerificationError(
            "verify (compat 10) needs the trec_eval 10.0 binary: set TREC_EVAL=/path/to/"
            "trec_eval or put trec_eval on PATH (build it from usnistgov/trec_eval with "
            "'make'), or use compat 9 to check with pytrec_eval")
    version = subprocess.run([candidate, "-v"], capture_output=True, text=True, check=False)
    said = (version.stderr + version.stdout).strip()
    if "version 10." not in said:
        raise VerificationError(
            f"verify (compat 10) needs trec_eval 10.x, but {candidate} says {said!r}; point "
            "TREC_EVAL at a trec_eval 10.0 binary, or use compat 9")
    return candidate


def verify_with_binary(result: EvaluationResult, qrels: Qrels, run: Run, options: list[str],
                       zscores: ZScores | str | Path | None) -> int:
    """Run the binary with ``-q`` and ``options``; every line it prints must be rerankit's."""
    binary = find_trec_eval()
    if result.zscores and any(m.family == _DERIVED for m in result.measures):
        raise VerificationError(f"{_DERIVED} (MRR@k) is not a trec_eval measure: its "
                                "z-scores cannot be checked with trec_eval")
    ours = _parse(result.to_trec_eval(per_query=True, summary=True))
    specs, derived = _measure_specs(result)
    with tempfile.TemporaryDirectory(prefix="rerankit-verify-") as folder:
        qrels_path, run_path = Path(folder) / "qrels", Path(folder) / "run"
        if "-c" not in options:
            # trec_eval 10.0 stops (exit 4) at a judged query without results unless -c;
            # its documented behaviour, and 9.0.x's, is to skip such a query: do that here.
            qrels = _only_queries(qrels, set(result.query_ids))
        qrels.write_trec(qrels_path)
        run.write_trec(run_path, tag=run_tag(run.name))
        command = [binary, "-q", *options, *(f"-m{s}" for s in specs)]
        if zscores is not None:
            command.append(f"-Z{zscores_file(zscores, Path(folder))}")
        printed = run_trec_eval([*command, str(qrels_path), str(run_path)])
    theirs = _parse(printed)
    checked = 0
    prefix = "Z" if result.zscores else ""
    for (name, qid), value in ours.items():
        expected = theirs.get((name, qid))
        if name[len(prefix):] in derived:
            if qid == "all":  # a mean of the values checked per query, not printed by trec_eval
                continue
            expected = _derived_value(theirs, prefix, derived[name[len(prefix):]], qid)
        elif name == "runid" and run_tag(result.run_name) != result.run_name:
            expected = value  # a name the TREC format cannot hold: written as "rerankit"
        if expected != value:
            raise VerificationError(f"{name} for query '{qid}': rerankit {value}, "
                                    f"trec_eval {expected}")
        checked += 1
    requested = {prefix + m.name for m in result.measures} | {"runid"}
    missing = [key for key in theirs if key not in ours and key[0] in requested]
    if missing:
        raise VerificationError(f"trec_eval printed {missing[0][0]} for query "
                                f"'{missing[0][1]}', rerankit did not")
    return checked


def verify_with_pytrec_eval(result: EvaluationResult, qrels: Qrels, run: Run,
                            relevance_level: int, judged_only: bool) -> int:
    """Compare every per-query value with pytrec_eval's; ``run`` already cut to -M."""
    import pytrec_eval

    families = {m.family for m in result.measures} - _NOT_IN_PYTREC
    unchecked = sorted(families - _PYTREC_CHECKS) + [
        m.name for m in result.measures  # parameters other than cut-offs (ndcg gains)
        if m.name != m.family and isinstance(m.param, tuple)]
    if unchecked:
        raise VerificationError(
            f"verify with compat 9 (pytrec_eval) cannot check {', '.join(unchecked)}; use "
            "compat 10 to check every trec_eval measure with the trec_eval 10.0 binary")
    pytrec_measures = {("recip_rank" if f == _DERIVED else "map" if f == "gm_map" else f)
                       for f in families}
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
            if measure.family == _DERIVED:
                rr = theirs["recip_rank"]
                expected = rr if rr * measure.param >= 1.0 else 0.0
            else:
                expected = theirs[measure.name]
            if ours[measure.name] != expected:
                raise VerificationError(
                    f"{measure.name} for query '{qid}': rerankit {ours[measure.name]!r}, "
                    f"trec_eval {expected!r}")
            checked += 1
    return checked


def _measure_specs(result: EvaluationResult) -> tuple[list[str], dict[str, str]]:
    """trec_eval ``-m`` arguments for the result's measures (family.param,param...), and
    for each recip_rank_cut name the success name it is derived from."""
    params: dict[str, list[str]] = {}
    derived: dict[str, str] = {}
    for m in result.measures:
        if m.family == _DERIVED:
            k = m.name[len(_DERIVED) + 1:]
            params.setdefault("recip_rank", [])
            params.setdefault("success", []).append(k)
            derived[m.name] = f"success_{k}"
            continue
        suffix = m.name[len(m.family) + 1:] if m.name != m.family else ""
        params.setdefault(m.family, [])
        if suffix:
            params[m.family].append(suffix)
    specs = []
    for family, values in params.items():
        unique = list(dict.fromkeys(values))
        specs.append(f"{family}.{','.join(unique)}" if unique else family)
    return specs, derived


def _derived_value(theirs: dict, prefix: str, success: str, qid: str) -> str | None:
    hit = theirs.get((prefix + success, qid))
    rr = theirs.get((prefix + "recip_rank", qid))
    if hit is None or rr is None:
        return None
    return rr if float(hit) == 1.0 else f"{0.0:6.4f}"


def _parse(text: str) -> dict[tuple[str, str], str]:
    """``{(printed measure name, qid): printed value}`` of trec_eval-style output."""
    out = {}
    for line in text.splitlines():
        name, qid, value = line.split("\t")
        out[(name.rstrip(" "), qid)] = value
    return out


def _only_queries(qrels: Qrels, keep: set[str]) -> Qrels:
    from rerankit.data.qrels import Qrels

    mask = pc.is_in(qrels.qid, value_set=pa.array(sorted(keep), type=pa.string()))
    rows = np.flatnonzero(to_numpy(mask))
    taken = pa.array(rows)
    return Qrels(qrels.qid.take(taken), qrels.docid.take(taken), qrels.grade[rows], qrels.name)


def run_trec_eval(command: list[str]) -> str:
    """What trec_eval printed for ``command``; its failure is a :class:`VerificationError`
    quoting its last error line."""
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise VerificationError(f"trec_eval failed (exit {done.returncode}): "
                                f"{done.stderr.strip().splitlines()[-1:] or ''}")
    return done.stdout


def run_tag(name: str) -> str:
    """The run's name as a TREC run tag (one word), else "rerankit"."""
    return name if name and not any(ch.isspace() for ch in name) else "rerankit"


def zscores_file(zscores: ZScores | str | Path, folder: Path) -> Path:
    """A z-scores file trec_eval can read: the given path, or ``zscores`` written to
    ``folder``."""
    if isinstance(zscores, (str, Path)):
        return Path(zscores)
    path = folder / "zscores"
    path.write_text("".join(f"{qid} {name} {mean!r} {std!r}\n"
                            for qid, entries in zscores.table.items()
                            for name, (mean, std) in entries.items()))
    return path
