"""The reader contract: every text format, every code path, every re-spacing reads the same,
and whatever trec_eval 10.0 accepts reads to trec_eval's numbers; everything else is refused
with a message naming file, line and field.

The reference is the trec_eval 10.0 binary built from ``../shared/tools`` (tests that need it
skip when the shared folder is absent).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rerankit import datasets
from rerankit.data.corpus import JsonlCorpus, TrecSgmlCorpus, open_corpus
from rerankit.data.fields import _read_any_whitespace, _read_single_separator, split_fields
from rerankit.data.loaders import read_queries
from rerankit.data.qrels import Qrels, read_qrels
from rerankit.data.run import Run, read_run
from rerankit.data.source import read_input
from rerankit.data.trec import QRELS_LAYOUT, RUN_LAYOUT, integers
from rerankit.errors import InputFormatError

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
TREC_EVAL_TESTS = SHARED / "tools" / "trec_eval-10.0" / "test"
NBSP = "\u00a0"
AQUAINT_RUN = datasets.path("aquaint") / "aq_bm25.res"


# ------------------------------------------------------------------------- the reference
def trec_eval_view(binary: Path, qrels: Path, run: Path) -> tuple[str, dict]:
    """trec_eval's run id and per-query num_ret, num_rel, map (as printed)."""
    done = subprocess.run([str(binary), "-q", "-m", "num_ret", "-m", "num_rel", "-m", "map",
                           "-m", "runid", str(qrels), str(run)], capture_output=True)
    assert done.returncode == 0, (done.stderr, qrels.read_bytes(), run.read_bytes())
    runid, per_query = None, {}
    for line in done.stdout.decode("utf-8").rstrip("\n").split("\n"):
        measure, qid, value = line.split("\t")
        measure = measure.strip()
        if measure == "runid":
            runid = value
        elif qid != "all":
            per_query.setdefault(qid, {})[measure] = value
    return runid, per_query


def rerankit_view(qrels: Qrels, run: Run) -> tuple[str, dict]:
    from rerankit.evaluation.evaluator import evaluate

    result = evaluate(qrels, run, ["num_ret", "num_rel", "map"])
    per_query = {qid: {"num_ret": str(int(v["num_ret"])), "num_rel": str(int(v["num_rel"])),
                       "map": f"{v['map']:.4f}"}
                 for qid, v in result.per_query.items()}
    return run.name, per_query


def same_run(a: Run, b: Run) -> None:
    assert a.name == b.name
    assert pa.array(a.qid.to_pylist()).equals(pa.array(b.qid.to_pylist()))
    assert a.docid.to_pylist() == b.docid.to_pylist()
    np.testing.assert_array_equal(a.score.view(np.int64), b.score.view(np.int64))


def same_qrels(a: Qrels, b: Qrels) -> None:
    assert a.qid.to_pylist() == b.qid.to_pylist()
    assert a.docid.to_pylist() == b.docid.to_pylist()
    np.testing.assert_array_equal(a.grade, b.grade)


# ------------------------------------------------------------------------- generated files
ID_CHARS = st.sampled_from([*list("abcXYZ0189-_.:/#é"), NBSP, "\u2003", "\u3000", "\x85"])
ids = st.text(ID_CHARS, min_size=1, max_size=5)
query_ids = ids.filter(lambda s: not s.startswith("#"))
SEP = " \t\x0b\x0c"


@st.composite
def runs(draw, width: int = 64):
    qids = draw(st.lists(query_ids, min_size=1, max_size=4, unique=True))
    rows = []
    for q in qids:
        for d in draw(st.lists(ids, min_size=1, max_size=5, unique=True)):
            score = float(draw(st.floats(allow_nan=False, allow_infinity=False, width=width)))
            text = draw(st.sampled_from([repr(score), f"{score:.17e}", f"{score!r}".upper()]))
            rows.append([q, "Q0", d, str(len(rows) + 1), text])
    tag = draw(st.text(ID_CHARS, min_size=1, max_size=4))
    return [[*row, tag] for row in rows]


@st.composite
def qrels_rows(draw):
    rows = []
    for q in draw(st.lists(query_ids, min_size=1, max_size=4, unique=True)):
        for d in draw(st.lists(ids, min_size=1, max_size=5, unique=True)):
            grade = draw(st.integers(-2, 4))
            text = draw(st.sampled_from([str(grade), f"{grade}.0", f"{grade}.00"]))
            rows.append([q, "0", d, text])
    return rows


def canonical(rows: list[list[str]], separator: str = " ") -> str:
    return "".join(separator.join(r) + "\n" for r in rows)


def respaced(draw, rows, *, line_ends=("\n", "\r\n", "\r"), bom=True, blank=True,
             comments=True, extra=True, indented_comments=True,
             comment_ends: tuple[str, ...] | None = None) -> bytes:
    """``rows`` written with any C-whitespace spacing and the given freedoms (comments are
    single lines before a data line; qrels allow them only unindented and not ended by a
    lone CR, as trec_eval, which skips a comment up to the next line feed)."""
    ws = st.text(st.sampled_from(SEP), min_size=1, max_size=3)
    pad = st.text(st.sampled_from(SEP), max_size=2)
    out = []
    for row in rows:
        if blank and draw(st.booleans()):
            out.append(draw(pad) + draw(st.sampled_from(line_ends)))
        if comments and draw(st.booleans()):
            out.append((draw(pad) if indented_comments else "") + "# "
                       + draw(st.text(ID_CHARS, max_size=8))
                       + draw(st.sampled_from(comment_ends or line_ends)))
        fields = list(row)
        if extra and draw(st.booleans()):
            fields.append(draw(ids))
        line = draw(pad)
        for k, value in enumerate(fields):
            line += value + (draw(ws) if k < len(fields) - 1 else "")
        out.append(line + draw(pad) + draw(st.sampled_from(line_ends)))
    text = "".join(out)
    if not draw(st.booleans()):
        text = text.rstrip("\r\n")
    data = text.encode("utf-8")
    return (b"\xef\xbb\xbf" + data) if bom and draw(st.booleans()) else data


SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(st.data(), runs())
def test_any_respacing_of_a_run_reads_identically(tmp_path, data, rows):
    plain = tmp_path / "plain.run"
    plain.write_text(canonical(rows), encoding="utf-8")
    variant = tmp_path / "variant.run"
    variant.write_bytes(respaced(data.draw, rows, extra=True))
    same_run(read_run(plain), read_run(variant))


@SETTINGS
@given(st.data(), qrels_rows())
def test_any_respacing_of_qrels_reads_identically(tmp_path, data, rows):
    plain = tmp_path / "plain.qrels"
    plain.write_text(canonical(rows), encoding="utf-8")
    variant = tmp_path / "variant.qrels"
    variant.write_bytes(respaced(data.draw, rows, extra=False, indented_comments=False,
                                 comment_ends=("\n", "\r\n")))
    same_qrels(read_qrels(plain), read_qrels(variant))


@SETTINGS
@given(runs(), st.sampled_from([" ", "\t"]))
def test_fast_and_general_paths_read_the_same_columns(tmp_path, rows, separator):
    path = tmp_path / "run"
    path.write_text(canonical(rows, separator), encoding="utf-8")
    source = read_input(path)
    fast = _read_single_separator(source, RUN_LAYOUT)
    assert fast is not None, "a single-separator file must take the fast path"
    general = _read_any_whitespace(source, RUN_LAYOUT)
    np.testing.assert_array_equal(fast.line_numbers, general.line_numbers)
    for name in ("qid", "docid", "tag"):
        assert fast.columns[name].to_pylist() == general.columns[name].to_pylist()
    from rerankit.data.trec import numbers as _numbers
    np.testing.assert_array_equal(_numbers(fast, source, "score").view(np.int64),
                                  _numbers(general, source, "score").view(np.int64))


@SETTINGS
@given(qrels_rows(), st.sampled_from([" ", "\t"]), st.booleans())
def test_fast_and_general_paths_read_the_same_qrels(tmp_path, rows, separator, beir):
    from rerankit.data.trec import BEIR_QRELS_LAYOUT

    rows = [[q, "0", d, str(int(float(g)))] for q, _, d, g in rows]
    layout = BEIR_QRELS_LAYOUT if beir else QRELS_LAYOUT
    if beir:
        rows = [["query-id", "corpus-id", "score"]] + [[q, d, g] for q, _, d, g in rows]
    path = tmp_path / "qrels"
    path.write_text(canonical(rows, separator), encoding="utf-8")
    source = read_input(path)
    fast = _read_single_separator(source, layout)
    assert fast is not None, "a single-separator file must take the fast path"
    general = _read_any_whitespace(source, layout)
    np.testing.assert_array_equal(fast.line_numbers, general.line_numbers)
    for name in ("qid", "docid"):
        assert fast.columns[name].to_pylist() == general.columns[name].to_pylist()
    np.testing.assert_array_equal(integers(fast, source, "grade"),
                                  integers(general, source, "grade"))
    assert len(read_qrels(path)) == len(fast.line_numbers)  # the header is detected


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data(), runs(width=32))
def test_respaced_files_give_trec_eval_numbers(tmp_path, trec_eval, data, rows):
    """What trec_eval 10.0 accepts reads to its numbers: LF or CRLF line ends, any spacing,
    comments, blank lines and extra fields in runs; any spacing in qrels. (Scores are
    float32 values: the evaluator ranks in float32 while trec_eval 10.0 ranks in double,
    which is the evaluator's business, not the readers'.)"""
    run_path, qrels_path = tmp_path / "run", tmp_path / "qrels"
    run_path.write_bytes(respaced(data.draw, rows, line_ends=("\n", "\r\n"), bom=False))
    # trec_eval 10.0 stops (exit 4) when a judged query has no results or only negative
    # grades: judge run queries, some of their retrieved documents and some others
    judged = {}
    for qid, _, docid, *_ in rows:
        first = qid not in {q for q, _ in judged}
        if first or data.draw(st.booleans()):
            judged[qid, docid] = data.draw(st.integers(0 if first else -1, 3))
    for qid in {q for q, _ in judged}:
        for docid in data.draw(st.lists(ids, max_size=2)):
            judged.setdefault((qid, docid), data.draw(st.integers(-1, 3)))
    unique = [[q, "0", d, str(g)] for (q, d), g in judged.items()]
    qrels_path.write_bytes(respaced(data.draw, unique, line_ends=("\n", "\r\n"), bom=False,
                                    blank=False, comments=False, extra=False))
    assert rerankit_view(read_qrels(qrels_path), read_run(run_path)) == \
        trec_eval_view(trec_eval, qrels_path, run_path)


# ------------------------------------------------------------------------- runs, by case
def write(tmp_path: Path, content: str | bytes, name: str = "run.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def test_trec_eval_own_test_files_read_to_its_numbers(trec_eval):
    for run_name, qrels_name in (("results.test", "qrels.test"),
                                 ("results.comment.test", "qrels.comment.test")):
        run = TREC_EVAL_TESTS / run_name
        qrels = TREC_EVAL_TESTS / qrels_name
        assert rerankit_view(read_qrels(qrels), read_run(run)) == \
            trec_eval_view(trec_eval, qrels, run)


@pytest.mark.parametrize("text, expected", [
    # trec_eval's own test runs pad the score after a tab
    ("301\tQ0\tFR940202-2-00150\t104\t  2.129133\tSTANDARD\n",
     {"301": {"FR940202-2-00150": 2.129133}}),
    # a NO-BREAK SPACE (and any non-C space) is part of an id
    (f"q{NBSP}1 Q0 d{NBSP}x 1 1.5 t\n", {f"q{NBSP}1": {f"d{NBSP}x": 1.5}}),
    ("q\u3000 Q0 \x85d 1 1.5 t\n", {"q\u3000": {"\x85d": 1.5}}),
    # CR-only, CRLF and mixed line ends; a vertical tab and a form feed separate fields
    ("1 Q0 a 1 2 t\r1 Q0 b 2 1 t\r", {"1": {"a": 2.0, "b": 1.0}}),
    ("1 Q0 a 1 2 t\r\n1\x0bQ0\x0cb 2 1 t\r\n", {"1": {"a": 2.0, "b": 1.0}}),
    # '#' after leading whitespace is a comment too (as in trec_eval's run reader)
    ("  # comment\n\t#x Q0 a 1 2 t\n1 Q0 a 1 2 t", {"1": {"a": 2.0}}),
    # '#' inside a line is data
    ("1 Q0 a#3 1 2 t#\n", {"1": {"a#3": 2.0}}),
    # trec_eval's atof reads these too; infinity ranks first
    ("1 Q0 a 1 inf t\n1 Q0 b 1 -Infinity t\n1 Q0 c 1 +.5 t\n1 Q0 d 1 1E+02 t\n",
     {"1": {"a": np.inf, "b": -np.inf, "c": 0.5, "d": 100.0}}),
])
def test_accepted_run_texts(tmp_path, text, expected):
    assert read_run(write(tmp_path, text)).to_dict() == expected


def test_bom_is_not_part_of_the_first_id_on_either_path(tmp_path):
    for text in ("1 Q0 a 1 2 t\n", "1\tQ0\ta\t1\t2\tt\n", "  1 Q0 a 1 2 t\n"):
        run = read_run(write(tmp_path, b"\xef\xbb\xbf" + text.encode()))
        assert run.to_dict() == {"1": {"a": 2.0}}


def test_tag_is_the_last_lines_even_when_that_line_is_long(tmp_path):
    long_doc = "d" * 9000
    for text in (f"1 Q0 a 1 2 first\n1 Q0 {long_doc} 2 1 {'t' * 5000}",
                 f"1 Q0 a 1 2 first\n1 Q0 {long_doc} 2 1 {'t' * 5000}\n\n# trailing\n"):
        run = read_run(write(tmp_path, text))
        assert run.name == "t" * 5000 and long_doc in run.docid.to_pylist()


@pytest.mark.parametrize("text, line, fragment", [
    ("1 Q0 a 1 2.5 r\n1 Q0 b 2 r\n", 2, "expected at least 6 whitespace-separated fields"),
    ("1 Q0 a 1 2.5 r\n\n1 Q0 b 2 high r\n", 3, "score 'high' is not a number (query '1', "
     "document 'b'); trec_eval's atof would silently read it as 0.0"),
    ("1 Q0 a 1 2.5 r\n1 Q0 b 2 0x1p3 r\n", 2, "atof would silently read it as 8.0"),
    ("1 Q0 a 1 2.5 r\n1 Q0 b 2 2.5e2x r\n", 2, "'2.5e2x' is not a number (query '1', "
     "document 'b'); trec_eval's atof would silently read it as 250.0"),
    ("1 Q0 a 1 2.5 r\r# c\r1 Q0 b 2 nan r\r", 3, "NaN"),
    ("1 Q0 a 1 2.5 r\n1 Q0 b 2 1.0 r\n1 Q0 a 3 0.5 r\n", 3, "'a' appears twice for query '1'"),
    (b"1 Q0 a 1 2.5 r\r\n1 Q0 \xff\xfe 2 1.0 r\r\n", 2, "not valid UTF-8"),
    (b"1 Q0 a 1 2.5 r\n1 Q0 a\x00b 2 1.0 r\n", 2, "NUL byte"),
    (f"1 Q0 a 1 2.5 r\n1{NBSP}Q0 b 2 1.0 r\n", 2, "expected at least 6"),
    # C reads ASCII digits only: other Unicode digits are not numbers to atof
    ("1 Q0 a 1 2.5 r\n1 Q0 b 2 \u0661 r\n", 2, "atof would silently read it as 0.0"),
    ("1 Q0 a 1 2.5 r\n1 Q0 b 2 7\u0663 r\n", 2, "atof would silently read it as 7.0"),
    ("1 Q0 a 1 2.5 r\n1 Q0 b 2 \uff11 r\n", 2, "atof would silently read it as 0.0"),
])
def test_malformed_runs_name_file_line_and_field(tmp_path, text, line, fragment):
    path = write(tmp_path, text)
    with pytest.raises(InputFormatError) as err:
        read_run(path)
    assert f"{path}, line {line}:" in str(err.value)
    assert fragment in str(err.value)


@pytest.mark.parametrize("content, fragment", [
    (b"", "run file is empty"),
    (b"\xef\xbb\xbf", "run file is empty"),
    (b"# only a comment\n\n  \t\n", "no data lines"),
    (b"\r\n\r\n", "no data lines"),
])
def test_empty_runs_are_refused(tmp_path, content, fragment):
    with pytest.raises(InputFormatError, match=fragment):
        read_run(write(tmp_path, content))


def test_missing_files_directories_and_fake_archives(tmp_path):
    with pytest.raises(InputFormatError, match="run file not found"):
        read_run(tmp_path / "absent")
    with pytest.raises(InputFormatError, match="is a directory, not a run file"):
        read_run(tmp_path)
    with pytest.raises(InputFormatError, match=r"ends in '\.gz' but the content is not gzip"):
        read_run(write(tmp_path, "1 Q0 a 1 2 t\n", "run.gz"))
    packed = gzip.compress(b"1 Q0 a 1 2 t\n" * 1000)
    with pytest.raises(InputFormatError, match="corrupt or truncated gzip archive"):
        read_run(write(tmp_path, packed[: len(packed) // 2], "cut.gz"))
    broken = bytearray(bz2.compress(b"1 Q0 a 1 2 t\n" * 1000))
    broken[len(broken) // 2] ^= 0xFF
    with pytest.raises(InputFormatError, match="corrupt or truncated bzip2 archive"):
        read_run(write(tmp_path, bytes(broken), "broken.bz2"))


def zstd(data: bytes) -> bytes:
    return pa.compress(data, "zstd", asbytes=True)


COMPRESSORS = {".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress}


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz", ".zst", ""])
def test_compressed_runs_and_qrels_read_like_plain_ones(tmp_path, suffix):
    compress = COMPRESSORS.get(suffix, zstd if suffix == ".zst" else gzip.compress)
    run_text = b"1 Q0 a 1 2.5 t\n1 Q0 b 2 1.5 t\n2 Q0 c 1 0.5 t\n"
    qrels_text = b"1 0 a 1\n2 0 c 0\n"
    run = read_run(write(tmp_path, compress(run_text), f"run{suffix}"))
    qrels = read_qrels(write(tmp_path, compress(qrels_text), f"qrels{suffix}"))
    same_run(run, read_run(write(tmp_path, run_text, "plain.run")))
    same_qrels(qrels, read_qrels(write(tmp_path, qrels_text, "plain.qrels")))


def test_run_from_standard_input(tmp_path):
    text = b"1 Q0 a 1 2.5 t\n1 Q0 b 2 1.5 t\n"
    code = ("from rerankit.data.run import Run; r = Run.read_trec('-'); "
            "print(r.name, r.to_dict())")
    for content in (text, gzip.compress(text)):  # compressed input is recognised too
        out = subprocess.run([sys.executable, "-c", code], input=content, capture_output=True,
                             check=True, cwd=Path(__file__).parents[1])
        assert out.stdout.decode().strip() == "t {'1': {'a': 2.5, 'b': 1.5}}"
    empty = subprocess.run([sys.executable, "-c", code], input=b"", capture_output=True,
                           cwd=Path(__file__).parents[1])
    assert "<stdin>: run file is empty" in empty.stderr.decode()


def test_quotes_in_ids_and_tag_are_written_as_they_are_and_trec_eval_agrees(tmp_path,
                                                                           trec_eval):
    """A '"' is an ordinary character of a TREC id or tag (trec_eval and the readers keep
    it): written unquoted, read back exactly, evaluated by trec_eval as in memory."""
    run = Run.from_dict({'q"1': {'"d"': 2.0, 'a"b': 1.0, "c": 0.5}, '"': {'"': 1.0, "x": 3.0}})
    qrels = Qrels.from_dict({'q"1': {'"d"': 0, 'a"b': 1, '"x': 2}, '"': {'"': 1, "x": 0}})
    run_path = run.write_trec(tmp_path / "quoted.run", tag='my"tag')
    qrels_path = qrels.write_trec(tmp_path / "quoted.qrels")
    assert run_path.read_text().splitlines()[:2] == ['" Q0 x 1 3 my"tag', '" Q0 " 2 1 my"tag']
    assert qrels_path.read_text().splitlines()[0] == 'q"1 0 "d" 0'
    same_run(read_run(run_path), run.ranked().rename('my"tag'))
    same_qrels(read_qrels(qrels_path), qrels)
    assert trec_eval_view(trec_eval, qrels_path, run_path) == \
        rerankit_view(qrels, run.rename('my"tag'))


# ------------------------------------------------------------------------- qrels, by case
@pytest.mark.parametrize("text, expected", [
    ("1 0 a 1.0\n1 0 b +2\n1 0 c -1\n1 0 d 007\n", {"1": {"a": 1, "b": 2, "c": -1, "d": 7}}),
    ("# c\n\n1\t0\ta\t1\t\r\n# another\r\n1 0 b 0\n", {"1": {"a": 1, "b": 0}}),
    # trec_eval 10.0 reads a '#' line right after a comment, or an indented one, as data
    ("# c\n#q 0 a 1\n  #r 0 b 2\n1 0 c 0\n", {"#q": {"a": 1}, "#r": {"b": 2}, "1": {"c": 0}}),
    ("query-id\tcorpus-id\tscore\r\n1\ta\t1.0\r\n2\tb\t0\r\n", {"1": {"a": 1}, "2": {"b": 0}}),
    ("\ufeffquery-id\tcorpus-id\tscore\n1  a  2\n", {"1": {"a": 2}}),
    ("query_id doc_id score\n1 a 2\n", {"1": {"a": 2}}),
    # BEIR is detected by its three-field header only: these are TREC query ids
    ("query-id7 0 a 1\nquery-id7 0 b 0\n", {"query-id7": {"a": 1, "b": 0}}),
    ("query_id 0 a 1\n", {"query_id": {"a": 1}}),
    ("qid\t0\tdocid\t1\n", {"qid": {"docid": 1}}),
])
def test_accepted_qrels_texts(tmp_path, text, expected):
    assert read_qrels(write(tmp_path, text)).to_dict() == expected


@pytest.mark.parametrize("text, line, fragment", [
    ("1 0 a 1\n1 0 b 1.5\n", 2, "grade '1.5' is not an integer (query '1', document 'b'); "
                                "trec_eval's atol would silently read it as 1"),
    ("1 0 a 1\n1 0 b high\n", 2, "atol would silently read it as 0"),
    ("1 0 a 1\n1 0 b 99999999999999999999\n", 2, "does not fit a 64-bit integer"),
    ("1 0 a 1\n1 0 b \u0661\n", 2, "'\u0661' is not an integer (query '1', document 'b'); "
                                   "trec_eval's atol would silently read it as 0"),
    ("1 0 a 1\n1 0 b 2\u0663\n", 2, "atol would silently read it as 2"),
    ("1 0 a 1 extra\n", 1, "expected 4 whitespace-separated fields"),
    ("1 0 a\n", 1, "expected 4 whitespace-separated fields"),
    ("1 0 a 1\n\n1 0 a 0\n", 3, "judgement for document 'a' appears twice"),
    ("query-id\tcorpus-id\tscore\n1\ta\n", 2, "expected 3 whitespace-separated fields"),
    ("# first\n# second\n1 0 a 1\n", 2, "found 2: '# second' (trec_eval 10.0's qrels"),
    ("1 0 a 1\n  # indented\n", 2, "found 2: '# indented' (trec_eval 10.0's qrels"),
    ("1 0 a 1\n# x\n# y\n# z\n1 0 b 1\n", 3, "found 2: '# y'"),
    ("1 0 a 1\n# trailing\n", 2, "a comment after the last judgement"),
    ("1 0 a 1\n# trailing\n\n\n", 2, "a comment after the last judgement"),
    ("1 0 a 1\n# x\n#q 0 b 1\n# trailing", 4, "a comment after the last judgement"),
])
def test_malformed_qrels_name_file_line_and_field(tmp_path, text, line, fragment):
    path = write(tmp_path, text, "qrels")
    with pytest.raises(InputFormatError) as err:
        read_qrels(path)
    assert f"{path}, line {line}:" in str(err.value)
    assert fragment in str(err.value)


@pytest.mark.parametrize("value", ["0x2", "0X1f", "-0x2", "0x0", "0b1", "1e2"])
@pytest.mark.parametrize("separator", [" ", "\t", " \t"])  # the last: the general path
def test_non_decimal_grades_are_refused_on_every_path(tmp_path, value, separator):
    """Arrow's typed parsers read ``0x2`` as 2 where trec_eval's atol reads 0: a grade that
    is not decimal text is refused, whichever path reads the file (TREC and BEIR)."""
    trec = separator.join(["1", "0", "a", "1\n1", "0", "b", f"{value}\n"])
    beir = "query-id\tcorpus-id\tscore\n" + separator.join(["1", "a", f"{value}\n"])
    for text, line in ((trec, 2), (beir, 2)):
        path = write(tmp_path, text, "qrels")
        with pytest.raises(InputFormatError) as err:
            read_qrels(path)
        assert f"{path}, line {line}: relevance grade {value!r} is not an integer" \
            in str(err.value)


@pytest.mark.parametrize("separator", [" ", "\t", " \t"])
def test_hexadecimal_numbers_read_alike_on_every_path(tmp_path, separator):
    """The fast path's typed run fields: a hexadecimal score is refused on both paths, and a
    hexadecimal rank (ignored, as by trec_eval) reads like any other rank."""
    fields = ["1", "Q0", "a", "0x2", "1.5", "t"]
    assert read_run(write(tmp_path, separator.join(fields) + "\n")).to_dict() == \
        {"1": {"a": 1.5}}
    fields[4] = "0x1p3"
    with pytest.raises(InputFormatError, match="score '0x1p3' is not a number"):
        read_run(write(tmp_path, separator.join(fields) + "\n"))


COMMENT_LINES = ["# note", "#", "#q 0 b 1", "  # note", "  #q 0 c 2", "#r 0 d x y"]


@pytest.mark.parametrize("before", [[], ["# head"], ["# head", "# again"]])
@pytest.mark.parametrize("block", [[], *[[c] for c in COMMENT_LINES],
                                   *[["# note", c] for c in COMMENT_LINES],
                                   ["# a", "#q 0 b 1", "# c"]])
@pytest.mark.parametrize("after", [["1 0 e 0"], []])
def test_qrels_comment_lines_read_as_trec_eval_10(tmp_path, trec_eval, before, block, after):
    """Every place a '#' line can take in qrels: where trec_eval 10.0 reads the file, the
    numbers are its numbers; where it refuses it (or crashes), rerankit refuses, naming
    the line."""
    qrels = write(tmp_path, "\n".join([*before, "1 0 a 1", *block, *after]) + "\n", "qrels")
    run = write(tmp_path, "1 Q0 a 1 2 r\n#q Q0 b 1 2 r\n", "run")
    done = subprocess.run([str(trec_eval), "-q", "-c", "-m", "num_rel", "-m", "num_q",
                           str(qrels), str(run)], capture_output=True)
    if done.returncode != 0:
        with pytest.raises(InputFormatError, match=rf"^{qrels}, line \d+: "):
            read_qrels(qrels)
        return
    from rerankit.evaluation.evaluator import evaluate

    ours = evaluate(qrels, run, ["num_rel", "num_q"], average_complete=True)
    assert ours.to_trec_eval(per_query=True) == done.stdout.decode()


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"])
def test_a_qrels_comment_ended_by_a_lone_cr_is_refused(tmp_path, trec_eval, end):
    """trec_eval 10.0 skips a comment up to the next line feed; after a lone CR that takes
    the next judgement with it, where rerankit (which ends a line at a lone CR) read it as
    data: other numbers, no message. Such a comment is refused, naming its line; LF and
    CRLF comments give trec_eval's numbers."""
    qrels = tmp_path / "qrels"
    qrels.write_bytes(f"1 0 z 0\n# c{end}1 0 a 1\n1 0 b 1\n".encode())
    run = write(tmp_path, "1 Q0 a 1 2 r\n1 Q0 b 2 1 r\n", "run")
    if end == "\r":
        with pytest.raises(InputFormatError, match=rf"^{qrels}, line 2: a comment ended by "
                                                   "a lone CR"):
            read_qrels(qrels)
        return
    from rerankit.evaluation.evaluator import evaluate

    done = subprocess.run([str(trec_eval), "-m", "num_rel", "-m", "map", str(qrels),
                           str(run)], capture_output=True, check=True)
    assert evaluate(qrels, run, ["num_rel", "map"]).to_trec_eval() == done.stdout.decode()


def test_qrels_general_and_fast_paths_agree_on_a_real_file():
    path = SHARED / "tools" / "trec_eval-10.0" / "test" / "qrels.test"
    if not path.exists():
        pytest.skip("../shared absent")
    source = read_input(path)
    fast = _read_single_separator(source, QRELS_LAYOUT)
    assert fast is not None
    general = _read_any_whitespace(source, QRELS_LAYOUT)
    for name in ("qid", "docid"):
        assert fast.columns[name].to_pylist() == general.columns[name].to_pylist()
    np.testing.assert_array_equal(integers(fast, source, "grade"),
                                  integers(general, source, "grade"))
    assert split_fields(source, QRELS_LAYOUT).line_numbers[-1] == 3681


# ------------------------------------------------------------------------- dicts
@pytest.mark.parametrize("bad, fragment", [
    ({1: {"a": 1.0}, "1": {"b": 2.0}}, "query ids 1 and '1' are the same id '1'"),
    ({"q": {1: 1.0, "1": 2.0}}, "document ids 1 and '1' (query 'q') are the same id '1'"),
    ({"q": {1.5: 1.0}}, "document id 1.5 (query 'q') is a float"),
    ({"q": {"a": 1.0, "b": 10 ** 400}}, "score for query 'q', document 'b' is an integer of "
                                         "401 digits, too large for a double"),
    ({"q": {"a": None}}, "score None for query 'q', document 'a' is a NoneType"),
    ({"q": {"a": "1.5"}}, "is a str, not a number"),
    ({"q": {"a": True}}, "is a bool, not a number"),
    ({"q": {"a": float("nan")}}, "NaN"),
    ({"q": [("a", 1.0)]}, "query 'q': expected a dict {document id: score}, got list"),
    ({"q": 1.0}, "got float"),
    ([("q", {"a": 1.0})], "expected a dict {query id: {document id: score}}, got list"),
    ({1.5: {"a": 1.0}}, "query id 1.5 is a float"),
    ({"q": {"a\x00b": 1.0}}, "document id 'a\\x00b' (query 'q') contains a NUL byte"),
    ({"q\x00": {"a": 1.0}}, "query id 'q\\x00' contains a NUL byte"),
    ({"q": {"a\ud800": 1.0}}, "document id 'a\\ud800' (query 'q') is not valid Unicode "
                              "text"),
])
def test_run_from_dict_validates_like_a_file(bad, fragment):
    with pytest.raises(InputFormatError) as err:
        Run.from_dict(bad)
    assert str(err.value).startswith("<dict>: ") and fragment in str(err.value)


@pytest.mark.parametrize("bad, fragment", [
    ({"q": {"a": 0.5}}, "grade 0.5 for query 'q', document 'a' is not an integer"),
    ({"q": {"a": float("nan")}}, "is not an integer"),
    ({"q": {"a": "1"}}, "is a str, not a number"),
    ({"q": {"a": False}}, "is a bool"),
    ({1: {"a": 1}, "1": {"a": 0}}, "are the same id '1'"),
    ({"q": {"a": 2 ** 70}}, "does not fit a 64-bit integer"),
    ({"q": {"a": -(10 ** 400)}}, "grade for query 'q', document 'a' is an integer of 401"),
    ({"q": {"a\x00": 1}}, "document id 'a\\x00' (query 'q') contains a NUL byte"),
])
def test_qrels_from_dict_validates_like_a_file(bad, fragment):
    with pytest.raises(InputFormatError) as err:
        Qrels.from_dict(bad)
    assert str(err.value).startswith("<dict>: ") and fragment in str(err.value)


@pytest.mark.parametrize("build", [Run.from_arrays, Qrels.from_arrays])
def test_from_arrays_refuses_ids_no_file_holds(build):
    with pytest.raises(InputFormatError, match=re.escape("<arrays>: query id 'q\\x00' contains")):
        build(["q\x00"], ["a"], [1])
    with pytest.raises(InputFormatError,
                       match=re.escape("<arrays>: document id 'a\\ud800' (query 'q') is")):
        build(pa.array(["q"]), ["a\ud800"], [1])


def test_dicts_with_integer_ids_and_numpy_values_read_like_files():
    run = Run.from_dict({1: {2: np.float32(0.5), "b": 3}})
    assert run.to_dict() == {"1": {"2": 0.5, "b": 3.0}}
    qrels = Qrels.from_dict({1: {2: 1.0, "b": np.int64(2)}})
    assert qrels.to_dict() == {"1": {"2": 1, "b": 2}}


# ------------------------------------------------------------------------- queries, topics

TOPICS = ("<top>\n<num> Number: 301\n<title> foreign  minorities,\n Germany\n<desc> d\n</top>\n"
          "\n<TOP><NUM>302<TITLE>poliomyelitis{nb}and post-polio</TOP>\n").replace("{nb}", NBSP)


@pytest.mark.parametrize("name, text", [
    ("q.jsonl", '{"_id": "1", "text": "a b"}\n{"_id": 2, "text": "c"}\n'),
    ("q.tsv", "1\ta b\n2\tc\n"),
    ("q.tsv", "\ufeff# comment\r\n  1   a b  \r\n\r\n2 c"),
    ("q.txt", "1\ta b\r2\tc\r"),
])
def test_query_formats_and_respacings_read_the_same(tmp_path, name, text):
    queries = read_queries(write(tmp_path, text, name))
    assert dict(queries) == {"1": "a b", "2": "c"}


def test_trec_topics_collapse_c_whitespace_only(tmp_path):
    queries = read_queries(write(tmp_path, TOPICS, "topics"))
    assert dict(queries) == {"301": "foreign minorities, Germany",
                             "302": f"poliomyelitis{NBSP}and post-polio"}


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz", ".zst"])
def test_compressed_queries_and_topics(tmp_path, suffix):
    compress = COMPRESSORS.get(suffix, zstd)
    for text in (TOPICS, "301\tforeign minorities, Germany\n302\tpolio\n",
                 '{"_id": "301", "text": "foreign minorities, Germany"}\n'):
        plain = read_queries(write(tmp_path, text, "plain"))
        packed = read_queries(write(tmp_path, compress(text.encode()), f"q{suffix}"))
        assert dict(plain) == dict(packed)


@pytest.mark.parametrize("name, text, line, fragment", [
    ("q.jsonl", '{"_id": "1", "text": "a"}\n{"_id": "2", "text": null}\n', 2,
     "query '2' has empty text"),
    ("q.jsonl", '{"_id": "1", "text": "a"}\n{"_id": {"x": 1}, "text": "b"}\n', 2,
     '"_id" must be a string or an integer, found {"x": 1}'),
    ("q.jsonl", '{"_id": "1", "text": "a"}\n["2", "b"]\n', 2, "expected a JSON object, found"),
    ("q.jsonl", '{"_id": "1", "text": "a"}\n7\n', 2, "expected a JSON object, found a JSON int"),
    ("q.jsonl", '{"_id": "1", "text": "a"}\n{"_id": 1, "text": "b"}\n', 2,
     "query id '1' appears twice (lines 1 and 2)"),
    ("q.jsonl", '{"_id": 1.5, "text": "a"}\n', 1, '"_id" must be a string or an integer'),
    ("q.jsonl", '{"_id": "1", "text": ["a"]}\n', 1, '"text" must be a string or null'),
    ("q.jsonl", '{"_id": "1"}\n', 1, 'line has no "text" field'),
    ("q.jsonl", '{"_id": "1", "text": "a"\n', 1, "invalid JSON"),
    ("q.jsonl", '{"_id": "1", "text": "a"}\n{"_id": "2", "text": "heat \\ud800 x"}\n', 2,
     '"text" holds the escape \\ud800, a lone surrogate, which is not valid Unicode'),
    ("q.jsonl", '{"_id": "1\\udc00", "text": "a"}\n', 1, '"_id" holds the escape \\udc00'),
    ("q.jsonl", '{"_id": "x", "text": "a", "_id": "y"}\n', 1, '"_id" appears twice'),
    ("q.jsonl", '{"_id": "x", "text": "a", "text": "b"}\n', 1, '"text" appears twice'),
    ("q.tsv", "1\ta\n2\n", 2, "query '2' has empty text"),
    ("q.tsv", "1\ta\n\n1 b\n", 3, "query id '1' appears twice (lines 1 and 3)"),
    ("t", "<top><num>1<title>a</top>\n<top><num>2<title>b\n\n", 2,
     "<top> is never closed with </top>"),
    ("t", "<top><num>1<title>a\n<top><num>2<title>b</top>\n", 2,
     "<top> opened before the <top> of line 1 was closed"),
    ("t", "<top><num>1<title>a</top>\n<top><title>b</top>\n", 2, "has no <num>"),
    ("t", "<top><num>1<title>a</top>\n<top><num>2<num>3<title>b</top>\n", 2, "second <num>"),
    ("t", "<top><num>1<title>a</top>\n<num>2\n", 2, "<num> outside a <top> block"),
    ("t", "<top><num>1</top>\n", 1, "has no <title>"),
])
def test_malformed_queries_name_file_and_line(tmp_path, name, text, line, fragment):
    path = write(tmp_path, text, name)
    with pytest.raises(InputFormatError) as err:
        read_queries(path)
    assert f"{path}, line {line}:" in str(err.value)
    assert fragment in str(err.value)


def test_bad_query_files(tmp_path):
    with pytest.raises(InputFormatError, match="is a directory, not a queries file"):
        read_queries(tmp_path)
    with pytest.raises(InputFormatError, match="queries file is empty"):
        read_queries(write(tmp_path, "", "q.tsv"))
    with pytest.raises(InputFormatError, match="no queries found"):
        read_queries(write(tmp_path, "\n# c\n", "q.tsv"))
    with pytest.raises(InputFormatError, match=r"line 2: not valid UTF-8"):
        read_queries(write(tmp_path, b"1\ta\r\n2\t\xff\n", "q.tsv"))
    with pytest.raises(InputFormatError, match="not bzip2-compressed"):
        read_queries(write(tmp_path, "1\ta\n", "q.tsv.bz2"))


# ------------------------------------------------------------------------- corpora
JSONL = ('{"_id": "a", "title": "T", "text": "x y"}\n\n{"_id": 7, "text": null}\n'
         '{"text": "z", "_id": "b\\u00e9", "title": null}\n')
SGML = ("<DOC>\n<DOCNO> a </DOCNO>\n<TEXT>x <B>y</B></TEXT>\n</DOC>\n"
        f"<DOC><DOCNO>d{NBSP}1</DOCNO>z</DOC>\n")


@pytest.mark.parametrize("suffix", ["", ".gz", ".bz2", ".xz", ".zst"])
def test_corpora_plain_and_compressed_read_the_same(tmp_path, suffix):
    compress = COMPRESSORS.get(suffix, zstd) if suffix else (lambda b: b)
    jsonl = open_corpus(write(tmp_path, compress(JSONL.encode()), f"corpus.jsonl{suffix}"))
    assert isinstance(jsonl, JsonlCorpus)
    assert [(d.id, d.title, d.text) for d in jsonl] == [("a", "T", "x y"), ("7", "", ""),
                                                        ("bé", "", "z")]
    assert jsonl["7"].text == "" and jsonl["bé"].text == "z"
    sgml = open_corpus(write(tmp_path, compress(SGML.encode()), f"docs.trec{suffix}"))
    assert isinstance(sgml, TrecSgmlCorpus)
    assert [(d.id, d.text) for d in sgml] == [("a", "x y"), (f"d{NBSP}1", "z")]


def test_corpus_line_ends_and_bom(tmp_path):
    crlf = "\ufeff" + JSONL.replace("\n", "\r\n")
    lone_cr = JSONL.replace("\n", "\r")
    for text in (crlf, lone_cr):
        corpus = open_corpus(write(tmp_path, text, "c.jsonl"))
        assert corpus.ids == ["a", "7", "bé"] and corpus["bé"].text == "z"


@pytest.mark.parametrize("name, text, line, fragment", [
    ("c.jsonl", '{"_id": "1", "text": "a"}\n{"_id": 1, "text": "b"}\n', 2,
     "duplicate document id '1' (lines 1 and 2)"),
    ("c.jsonl", '{"_id": "1", "text": "a"}\n{"meta": {"_id": "2"}, "text": "b"}\n', 2,
     'line has no "_id" field'),
    ("c.jsonl", '{"_id": "1", "text": "a"}\n{"_id": ["2"], "text": "b"}\n', 2,
     '"_id" must be a string or an integer'),
    ("c.jsonl", '{"_id": "1", "text": "a"}\n["2", "b"]\n', 2, "expected a JSON object"),
    ("c.jsonl", '{"_id": "1", "text": "a"}\n"2"\n', 2, "expected a JSON object, found a JSON str"),
    ("c.jsonl", '{"_id": "1", "text": "a"}\n{"_id": "d1", "text": "heat \\ud800 bad"}\n', 2,
     '"text" holds the escape \\ud800, a lone surrogate, which is not valid Unicode'),
    ("c.jsonl", '{"_id": "1", "text": "a"}\n{"_id": "d\\udfff", "text": "b"}\n', 2,
     '"_id" holds the escape \\udfff'),
    ("c.jsonl", '{"_id": "1", "text": "a"}\n{"_id": "d1", "metadata": {"url": "x\\ud800"}}\n',
     2, '"metadata.url" holds the escape \\ud800'),
    ("c.jsonl", '{"_id": "1", "text": "a"}\n{"_id": "x", "text": "a", "_id": "y"}\n', 2,
     '"_id" appears twice in the object'),
    ("c.jsonl", '{"_id": "1", "text": "a"}\n{"text": "a", "_id": "x", "_id": "y"}\n', 2,
     '"_id" appears twice in the object'),
    ("d.trec", "<DOC><DOCNO>1</DOCNO>a</DOC>\n<DOC><DOCNO>2</DOCNO>b\n\n", 2,
     "<DOC> is never closed with </DOC>"),
    ("d.trec", "<DOC><DOCNO>1</DOCNO>a\n<DOC><DOCNO>2</DOCNO>b</DOC>\n", 2,
     "<DOC> opened before the <DOC> of line 1 was closed"),
    ("d.trec", "<DOC><DOCNO>1</DOCNO>a</DOC>\n<DOC>\nb</DOC>\n", 2, "has no <DOCNO>"),
    ("d.trec", "<DOC><DOCNO>1</DOCNO>\n<DOCNO>2</DOCNO>a</DOC>\n", 2, "second <DOCNO>"),
    ("d.trec", "<DOC><DOCNO>1</DOCNO>a</DOC>\n</DOC>\n", 2, "</DOC> outside a <DOC>"),
    ("d.trec", "<DOC><DOCNO>1\n<TEXT>a</DOC>\n", 2, "inside the <DOCNO> of line 1"),
    ("d.trec", "<DOC><DOCNO> </DOCNO>a</DOC>\n", 1, "empty <DOCNO>"),
    ("d.trec", "<DOC><DOCNO>1</DOCNO>a</DOC>\n<DOC><DOCNO>1</DOCNO>b</DOC>\n", 2,
     "duplicate document id '1'"),
])
def test_malformed_corpora_name_file_and_line(tmp_path, name, text, line, fragment):
    path = write(tmp_path, text, name)
    with pytest.raises(InputFormatError) as err:
        open_corpus(path)
    assert f"{path}, line {line}:" in str(err.value)
    assert fragment in str(err.value)



def test_sgml_tags_in_any_case_and_doc_attributes_read_like_vaswani(tmp_path):
    """TREC collections differ in tag case, and some give <DOC> attributes: the real Vaswani
    documents read the same with lowercase tags and <DOC id=...>; <DOCHDR> stays text."""
    from rerankit import datasets

    original = datasets.path("vaswani") / "doc-text.trec"
    head = original.read_text(encoding="utf-8").split("</DOC>")[:50]
    text = "</DOC>".join(head) + "</DOC>\n"
    varied = text.replace("<DOC>", '<doc id="v">').replace("</DOC>", "</doc>") \
        .replace("<DOCNO>", "<DocNo>").replace("</DOCNO>", "</docno>")
    expected = list(open_corpus(write(tmp_path, text, "plain.trec")))
    assert len(expected) == 50
    assert list(open_corpus(write(tmp_path, varied, "varied.trec"))) == expected
    header = open_corpus(write(tmp_path, "<DOC><DOCNO>1</DOCNO><DOCHDR>h</DOCHDR> a</DOC>\n",
                                "hdr.trec"))
    assert header["1"].text == "h a"

def test_corpus_fields_are_checked_when_read(tmp_path):
    corpus = open_corpus(write(tmp_path, '{"_id": "1", "text": 5}\n', "c.jsonl"))
    with pytest.raises(InputFormatError, match=r'line 1: "text" must be a string or null'):
        corpus["1"]


def test_surrogate_escapes_and_repeated_keys_in_a_real_corpus(tmp_path):
    """Real Cranfield lines: a surrogate pair (an emoji) and an escaped backslash before
    "ud800" are text; a lone surrogate or a key given twice is refused naming the line and
    field (a repeated text when the document is read, as other text problems are)."""
    real = (datasets.path("cranfield") / "corpus.jsonl").read_text().splitlines()[:3]
    good = [*real, '{"_id": "p", "text": "emoji \\ud83d\\ude00, not \\\\ud800"}']
    corpus = open_corpus(write(tmp_path, "\n".join(good) + "\n", "c.jsonl"))
    assert corpus["p"].text == "emoji \U0001f600, not \\ud800"
    assert [d.id for d in corpus] == ["1", "2", "3", "p"]
    bad = [*real, '{"_id": "p", "text": "a", "text": "b"}']
    corpus = open_corpus(write(tmp_path, "\n".join(bad) + "\n", "d.jsonl"))
    with pytest.raises(InputFormatError, match=r'd.jsonl, line 4: "text" appears twice'):
        corpus["p"]
    bad = [*real[:1], '{"_id": "p", "text": "heat transfer \\ud800 bad"}', *real[1:]]
    with pytest.raises(InputFormatError, match=r'e.jsonl, line 2: "text" holds the escape '
                       r"\\ud800, a lone surrogate"):
        open_corpus(write(tmp_path, "\n".join(bad) + "\n", "e.jsonl"))


def test_bad_corpus_files(tmp_path):
    with pytest.raises(InputFormatError, match="is a directory, not a corpus file"):
        open_corpus(tmp_path)
    with pytest.raises(InputFormatError, match="corpus file not found"):
        open_corpus(tmp_path / "nope.jsonl")
    with pytest.raises(InputFormatError, match="corpus file is empty"):
        open_corpus(write(tmp_path, "", "c.jsonl"))
    with pytest.raises(InputFormatError, match="corpus has no documents"):
        open_corpus(write(tmp_path, "nothing here\n", "c.trec"))
    packed = gzip.compress(JSONL.encode() * 50)
    with pytest.raises(InputFormatError, match="corrupt or truncated gzip archive"):
        open_corpus(write(tmp_path, packed[:-10], "c.jsonl.gz"))
    with pytest.raises(InputFormatError, match="not gzip-compressed"):
        open_corpus(write(tmp_path, JSONL, "c.jsonl.gz"))


def test_query_and_corpus_dicts_are_checked_like_files():
    from rerankit.data.corpus import InMemoryCorpus
    from rerankit.data.queries import Queries

    assert dict(Queries.from_dict({1: "a", "x": "b"})) == {"1": "a", "x": "b"}
    with pytest.raises(InputFormatError, match="text of query '1' is a NoneType"):
        Queries.from_dict({"1": None})
    with pytest.raises(InputFormatError, match="are the same id '1'"):
        Queries.from_dict({1: "a", "1": "b"})
    docs = InMemoryCorpus.from_dict({1: "a", "d": {"title": None, "text": "x"}})
    assert [(d.id, d.title, d.text) for d in docs] == [("1", "", "a"), ("d", "", "x")]
    with pytest.raises(InputFormatError, match='"text" must be a string or null'):
        InMemoryCorpus.from_dict({"d": {"text": 5}})
    with pytest.raises(InputFormatError, match="expected a text or a dict"):
        InMemoryCorpus.from_dict({"d": None})


ID_NUL = ("contains a NUL byte, which run and qrels files cannot hold (their readers refuse "
          "it; trec_eval stops an id there)")
SURROGATE = "is not valid Unicode text (a lone surrogate), which UTF-8 files cannot hold"


@pytest.mark.parametrize("build, bad, message", [
    ("queries", {"q1": "a", "q\x00": "b"}, f"query id 'q\\x00' {ID_NUL}"),
    ("queries", {"q\ud800": "b"}, f"query id 'q\\ud800' {SURROGATE}"),
    ("queries", {"q1": "a", "q2": "heat \udfff"}, f"text of query 'q2' {SURROGATE}"),
    ("corpus", {"d1": "a", "d\x00": "b"}, f"document id 'd\\x00' {ID_NUL}"),
    ("corpus", {7: "a", "d\ud800": "b"}, f"document id 'd\\ud800' {SURROGATE}"),
    ("corpus", {"d1": "a", "d2": "heat \ud800"}, f"text of document 'd2' {SURROGATE}"),
    ("corpus", {"d1": {"title": "x\udc00", "text": "a"}}, f"title of document 'd1' {SURROGATE}"),
])
def test_query_and_corpus_dicts_refuse_ids_and_texts_run_dicts_refuse(build, bad, message):
    """What Run.from_dict refuses (the same check): a NUL byte in an id, and a lone
    surrogate in an id or a text (a JSONL file's lone surrogate escape is refused too)."""
    from rerankit.data.corpus import InMemoryCorpus
    from rerankit.data.queries import Queries

    make = Queries.from_dict if build == "queries" else InMemoryCorpus.from_dict
    with pytest.raises(InputFormatError) as err:
        make(bad)
    assert str(err.value) == f"{build}: {message}"


def test_query_and_corpus_dicts_take_what_their_files_give(tmp_path):
    """Real queries and documents read the same from a dict; a NUL byte in a text (a JSONL
    "\\u0000", which the file readers keep) is kept too: it is no id of any run file."""
    from rerankit.data.corpus import InMemoryCorpus
    from rerankit.data.loaders import read_queries
    from rerankit.data.queries import Queries

    queries = read_queries(datasets.path("scifact") / "queries.jsonl")
    again = Queries.from_dict(dict(queries))
    assert (again.ids, again.texts) == (queries.ids, queries.texts)
    corpus = open_corpus(datasets.path("cranfield") / "corpus.jsonl")
    again = InMemoryCorpus.from_dict({d.id: {"title": d.title, "text": d.text} for d in corpus})
    assert list(again) == list(corpus)
    path = write(tmp_path, '{"_id": "q1", "text": "a\\u0000b"}\n', "q.jsonl")
    assert Queries.from_dict({"q1": "a\x00b"}).texts == read_queries(path).texts == ("a\x00b",)


# ------------------------------------------------------------------------- parts and blocks
@pytest.mark.parametrize("separator", [" ", "\t"])
def test_reading_in_small_parts_and_blocks_reads_the_same(tmp_path, monkeypatch, separator):
    """Big files are read in parts of whole lines and hashed in blocks; a real run cut into
    tiny parts and blocks (every boundary exercised) must read to the same run, keys and
    duplicate refusal as in one part."""
    from rerankit.data import fields, hashing

    lines = (AQUAINT_RUN.read_text().splitlines())[:3000]
    path = tmp_path / "run.txt"
    path.write_text("".join(separator.join(line.split()) + "\n" for line in lines))
    duplicated = tmp_path / "dup.txt"
    duplicated.write_text(path.read_text() + lines[1500] + "\n")
    whole = read_run(path)
    with pytest.raises(InputFormatError, match=r"lines 1501 and 3001") as refused:
        read_run(duplicated)
    monkeypatch.setattr(fields, "_PART", 97)
    monkeypatch.setattr(hashing, "_BLOCK", 3)
    parts = read_run(path)
    assert parts.name == whole.name
    assert parts.qid.to_pylist() == whole.qid.to_pylist()
    assert parts.docid.to_pylist() == whole.docid.to_pylist()
    assert np.array_equal(parts.score, whole.score)
    assert np.array_equal(parts.pair_keys, whole.pair_keys)
    with pytest.raises(InputFormatError) as again:
        read_run(duplicated)
    assert str(again.value) == str(refused.value)
