"""Reading and writing TREC run and qrels files, including every kind of bad input."""

from __future__ import annotations

import math
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from rerankit.data.atomic import atomic_write
from rerankit.data.qrels import Qrels, read_qrels
from rerankit.data.run import Run, read_run, write_run
from rerankit.errors import InputFormatError
from rerankit.evaluation.evaluator import evaluate


def write(tmp_path, text, name="run.txt", mode="w"):
    path = tmp_path / name
    if mode == "wb":
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def test_real_run_reads_with_tag_and_every_row(bm25_run):
    assert len(bm25_run) == 50_000
    assert bm25_run.name == "bm25"
    assert len(bm25_run.query_ids) == 50


def test_whitespace_variants_comments_and_extra_fields_read_the_same(tmp_path):
    plain = write(tmp_path, "1 Q0 a 1 2.5 r\n1 Q0 b 2 1.5 r\n2 Q0 c 1 0.5 r\n", "plain")
    messy = write(tmp_path, "# a comment\n1\tQ0  a 1 2.5 r extra\n\n   \n1 Q0\tb\t2 1.5 r\n"
                  "  2 Q0 c 1 0.5 r", "messy")
    a, b = read_run(plain), read_run(messy)
    assert a.to_dict() == b.to_dict() == {"1": {"a": 2.5, "b": 1.5}, "2": {"c": 0.5}}
    assert b.name == "r"


@pytest.mark.parametrize("text, line, fragment", [
    ("1 Q0 a 1 2.5 r\n1 Q0 b 2 r\n", 2, "expected at least 6"),
    ("1 Q0 a 1 2.5 r\n1 Q0 b 2 high r\n", 2, "'high' is not a number"),
    ("1 Q0 a 1 2.5 r\n# c\n1 Q0 b 2 nan r\n", 3, "NaN"),
    ("1 Q0 a 1 2.5 r\n1 Q0 b 2 1.0 r\n1 Q0 a 3 0.5 r\n", 3, "'a' appears twice for query '1'"),
])
def test_malformed_run_lines_name_file_and_line(tmp_path, text, line, fragment):
    path = write(tmp_path, text)
    with pytest.raises(InputFormatError) as err:
        read_run(path)
    assert f"{path}, line {line}:" in str(err.value)
    assert fragment in str(err.value)


def test_empty_and_missing_and_non_utf8_files(tmp_path):
    with pytest.raises(InputFormatError, match="is empty"):
        read_run(write(tmp_path, ""))
    with pytest.raises(InputFormatError, match="no data lines"):
        read_run(write(tmp_path, "# only a comment\n\n", "comments"))
    with pytest.raises(InputFormatError, match="file not found"):
        read_run(tmp_path / "absent")
    bad = write(tmp_path, b"1 Q0 a 1 2.5 r\n1 Q0 \xff\xfe 2 1.0 r\n", "latin", mode="wb")
    with pytest.raises(InputFormatError, match=r"line 2: not valid UTF-8"):
        read_run(bad)


def test_qrels_formats_and_errors(tmp_path):
    trec = read_qrels(write(tmp_path, "1 0 a 2\n1 0 b 0\n2 0 c -1\n", "q.trec"))
    beir = read_qrels(write(tmp_path, "query-id\tcorpus-id\tscore\n1\ta\t2\n1\tb\t0\n2\tc\t-1\n",
                            "q.tsv"))
    assert trec.to_dict() == beir.to_dict() == {"1": {"a": 2, "b": 0}, "2": {"c": -1}}
    with pytest.raises(InputFormatError, match=r"line 2: relevance grade '0.5'"):
        read_qrels(write(tmp_path, "1 0 a 1\n1 0 b 0.5\n", "frac"))
    with pytest.raises(InputFormatError, match=r"line 1: expected 4 whitespace"):
        read_qrels(write(tmp_path, "1 0 a 1 extra\n", "wide"))
    with pytest.raises(InputFormatError, match=r"judgement for document 'a' appears twice"):
        read_qrels(write(tmp_path, "1 0 a 1\n1 0 a 0\n", "dup"))


def test_write_run_has_explicit_ranks_tag_and_reads_back(tmp_path, bm25_run):
    path = write_run(bm25_run, tmp_path / "out" / "run.trec", tag="mine", depth=10)
    lines = path.read_text().splitlines()
    assert len(lines) == 500
    first = lines[0].split()
    assert first[1] == "Q0" and first[3] == "1" and first[5] == "mine"
    assert [line.split()[3] for line in lines[:10]] == [str(i) for i in range(1, 11)]
    back = read_run(path)
    assert back.name == "mine"
    np.testing.assert_array_equal(back.score, bm25_run.top_k(10).score)


EDGE_SCORES = [0.0, -0.0, 5e-324, -5e-324, 2.225073858507201e-308, 2.2250738585072014e-308,
               1.7976931348623157e308, -1.7976931348623157e308, math.inf, -math.inf, 1.0,
               -3.0, 100.0, 1e-7, 2.5e-5, 1e-5, 1e15, 1e16, 1e21, 2.0 ** 53, 2.0 ** 53 + 2,
               -(2.0 ** 63), 0.1, 1 / 3, 12345.678]


@settings(max_examples=40, deadline=None)
@example(scores=EDGE_SCORES)
@given(scores=st.lists(st.floats(allow_nan=False) | st.integers(-2 ** 64, 2 ** 64).map(float),
                       min_size=1, max_size=80))
def test_written_scores_read_back_bit_for_bit_by_rerankit_and_trec_eval(trec_eval, scores):
    """Every score written reads back as the same double: by rerankit's reader (compared
    by bits, so -0.0 stays -0.0), and by trec_eval 10.0's atof. trec_eval prints no scores,
    so each score is written (by write_run, document b) between its two neighbouring
    doubles (added as exact hexadecimal floats, documents a above and c below): trec_eval
    ranks b second (reciprocal rank 0.5) only if it read b's score as exactly that double,
    since a tie with either neighbour goes to the higher document id. The sign of a zero
    is invisible to ranking; the reader's check covers it."""
    run = Run.from_dict({f"q{i}": {"b": x} for i, x in enumerate(scores)})
    with tempfile.TemporaryDirectory() as folder:
        path = write_run(run, Path(folder) / "run.trec", tag="t")
        back = read_run(path)
        read = dict(zip(back.qid.to_pylist(), back.score.tolist(), strict=True))
        assert {q: read[q].hex() for q in read} == {f"q{i}": x.hex()
                                                    for i, x in enumerate(scores)}
        lines, qrels, expected = path.read_text().splitlines(), [], {}
        for i, x in enumerate(scores):
            above, below = math.nextafter(x, math.inf), math.nextafter(x, -math.inf)
            lines += [f"q{i} Q0 {doc} 0 {y.hex()} t" for doc, y in (("a", above), ("c", below))
                      if y != x]                              # +inf has nothing above it
            qrels.append(f"q{i} 0 b 1")
            expected[f"q{i}"] = "1.0000" if above == x else "0.5000"
        combined, judged = Path(folder) / "combined.run", Path(folder) / "qrels"
        combined.write_text("\n".join(lines) + "\n")
        judged.write_text("\n".join(qrels) + "\n")
        out = subprocess.run([str(trec_eval), "-q", "-m", "recip_rank", str(judged),
                              str(combined)], capture_output=True, text=True, check=True).stdout
    ranks = {q: v for _, q, v in (line.split() for line in out.splitlines()) if q != "all"}
    assert ranks == expected


def test_write_run_keeps_refusing_nan_and_writes_infinities(tmp_path):
    """NaN cannot be ranked and is refused before anything is written; +-inf are written as
    ``inf`` and ``-inf`` (what C's atof and rerankit's reader read as infinities)."""
    target = tmp_path / "run.trec"
    with pytest.raises(InputFormatError, match="score is NaN for query 'q', document 'b'"):
        write_run(Run(pa.array(["q", "q"]), pa.array(["a", "b"]), np.array([1.0, np.nan])),
                  target)
    assert not target.exists()
    write_run(Run.from_dict({"q": {"a": math.inf, "b": -math.inf, "c": 1.0}}), target)
    assert [line.split()[4] for line in target.read_text().splitlines()] == ["inf", "1", "-inf"]


def test_write_run_refuses_unwritable_ids_and_leaves_nothing(tmp_path):
    run = Run.from_dict({"q 1": {"a": 1.0}})
    target = tmp_path / "run.trec"
    with pytest.raises(ValueError, match="whitespace"):
        write_run(run, target)
    assert not target.exists() and list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="run tag"):
        write_run(Run.from_dict({"q": {"a": 1.0}}), target, tag="two words")


@pytest.mark.parametrize("ids, message", [
    ({"q": {"": 1}}, "document id '' (query 'q') is empty, which a TREC file cannot hold "
     "(no field)"),
    ({"": {"d": 1}}, "query id '' is empty, which a TREC file cannot hold (no field)"),
    ({"q": {"d": 1, "a b": 1}}, "document id 'a b' (query 'q') contains whitespace (' '), "
     "where a TREC file's field ends"),
    ({"q": {"a\rb": 1}}, "document id 'a\\rb' (query 'q') contains whitespace ('\\r')"),
    ({"q\x0b1": {"d": 1}}, "query id 'q\\x0b1' contains whitespace ('\\x0b')"),
    ({"#q": {"d": 1}}, "query id '#q' starts with '#', which trec_eval and rerankit read as "
     "a comment line"),
])
def test_unwritable_ids_are_refused_naming_the_id_its_query_and_why(tmp_path, ids, message):
    """An id a TREC file cannot hold (kept by from_dict: evaluation in memory takes it) is
    refused by both writers, naming the id, for a document id its query, and the one reason
    that applies: the message listed all three reasons and no query."""
    for name, write in (("run", lambda path: Run.from_dict(ids).write_trec(path)),
                        ("qrels", lambda path: Qrels.from_dict(ids).write_trec(path))):
        target = tmp_path / name
        with pytest.raises(ValueError) as caught:
            write(target)
        assert str(caught.value).startswith(f"cannot write {target}: {message}")
        assert str(caught.value).endswith("; such ids can be evaluated in memory but not "
                                          "written")
        assert not target.exists()


def test_a_document_id_may_start_with_a_hash(tmp_path):
    """Only a query id starting with '#' makes a comment line; a document id may."""
    run = Run.from_dict({"q": {"#d": 1.0}})
    assert read_run(run.write_trec(tmp_path / "run")).docid.to_pylist() == ["#d"]


def test_a_write_that_does_not_read_back_leaves_the_previous_file(tmp_path):
    """Built past from_dict's checks, a NUL id is written, fails its read-back, and the
    user's file keeps its content: the staged file is checked before the rename."""
    nul = pa.array(["a\x00b"])
    target = tmp_path / "mine.run"
    for write_bad in (lambda: write_run(Run(pa.array(["q"]), nul, np.array([1.0])), target),
                      lambda: Qrels(pa.array(["q"]), nul, np.array([1])).write_trec(target)):
        target.write_text("my data\n")
        with pytest.raises(InputFormatError, match=r"mine\.run, line 1: the written .* did not "
                           r"read back .*NUL.*mine\.run is as it was before"):
            write_bad()
        assert target.read_text() == "my data\n"
        assert [p.name for p in tmp_path.iterdir()] == ["mine.run"]


@pytest.mark.parametrize("name", ["/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"])
def test_a_run_written_to_standard_output_by_name_appends_to_its_file(tmp_path, name):
    """`... -o /dev/stdout >> log.txt`: opening the name again with "w" emptied log.txt and
    wrote from its start; it is written through the already-open standard output, as
    ``-`` is, after what was printed before it."""
    log = tmp_path / "log.txt"
    log.write_text("keep\n")
    code = ("import sys; from rerankit.data.run import Run; print('before'); "
            "Run.from_dict({'q': {'a': 2.0, 'b': 0.5}}).write_trec(sys.argv[1], tag='t'); "
            "print('after')")
    with log.open("a") as appended:
        done = subprocess.run([sys.executable, "-c", code, name], stdout=appended,
                              stderr=subprocess.PIPE, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert log.read_text() == "keep\nbefore\nq Q0 a 1 2 t\nq Q0 b 2 0.5 t\nafter\n"


def test_atomic_write_checks_the_staged_file_before_replacing(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    seen = []

    def refuse(staged):
        seen.append(staged.read_text())
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"), atomic_write(target, check=refuse) as handle:
        handle.write("new")
    assert seen == ["new"] and target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def trec_eval_values(binary, qrels, run, measures):
    """trec_eval's per-query values of ``measures`` (``-q``), as printed."""
    done = subprocess.run([str(binary), "-q", *[f"-m{m}" for m in measures], str(qrels),
                           str(run)], capture_output=True, text=True, check=True)
    return {tuple(line.split()[:2]): line.split()[2] for line in done.stdout.splitlines()}


def test_ranking_is_trec_eval_10s_double_order():
    """Scores equal as float32 but not as doubles rank by the double; -0.0 ties with 0.0
    (broken by document id descending); a score beyond float32 range ranks without a
    warning."""
    run = Run.from_dict({"q": {"a": 1.00000002, "b": 1.00000001, "c": 0.5},
                         "r": {"w": 0.0, "x": 1e300, "y": 1e301, "z": -0.0}})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert run.ranked().docid.to_pylist() == ["a", "b", "c", "y", "x", "z", "w"]
        top = run.top_k(1)
    assert top.to_dict() == {"q": {"a": 1.00000002}, "r": {"y": 1e301}}
    qrels = {"q": {"a": 1, "b": 0, "c": 0}}
    assert evaluate(qrels, top, ["P_1"])["P_1"] == evaluate(qrels, run, ["P_1"])["P_1"] == 1.0


def test_top_k_keeps_the_documents_trec_eval_ranks_first(tmp_path, trec_eval):
    """On runs full of near-ties (1 ulp apart, equal as float32, -0.0 beside 0.0, beyond
    float32 range), trec_eval 10.0 finds in top_k(k), written by write_trec, the relevant
    documents it finds in the first k of the whole run, written by hand in random order."""
    rng = np.random.default_rng(3)
    values = [1.0, np.nextafter(1.0, 2.0), 1.0 + 2.0 ** -30, 0.0, -0.0, 0.5, 1e300, 1e301]
    rows = [(f"q{q}", f"d{d}", float(rng.choice(values)), int(rng.integers(2)))
            for q in range(20) for d in rng.choice(100, 30, replace=False)]
    rng.shuffle(rows)
    full = tmp_path / "full.run"
    full.write_text("".join(f"{q} Q0 {d} 0 {s!r} t\n" for q, d, s, _ in rows))
    qrels = tmp_path / "qrels"
    qrels.write_text("".join(f"{q} 0 {d} {g}\n" for q, d, _, g in rows))
    run = read_run(full)
    for k in (1, 3, 10):
        measures = [f"P.{k}", "num_ret"]
        cut = write_run(run.top_k(k), tmp_path / f"top{k}.run")
        expected = trec_eval_values(trec_eval, qrels, full, measures)
        got = trec_eval_values(trec_eval, qrels, cut, measures)
        assert {key: v for key, v in got.items() if key[0] == f"P_{k}"} == \
            {key: v for key, v in expected.items() if key[0] == f"P_{k}"}
        assert {v for key, v in got.items() if key[0] == "num_ret" and key[1] != "all"} == \
            {str(k)}


@pytest.mark.parametrize("depth", [0, -1, 1.5, True])
def test_write_run_refuses_a_depth_that_is_not_a_positive_integer(tmp_path, depth):
    """``depth=0`` wrote the whole run; ``1.5`` kept one row per query."""
    target = tmp_path / "run.trec"
    with pytest.raises(ValueError, match=r"run\.trec: depth must be an integer >= 1"):
        write_run(Run.from_dict({"q": {"a": 1.0, "b": 0.5}}), target, depth=depth)
    assert not target.exists()


def test_dict_round_trips():
    run = {"q1": {"d1": 1.5, "d2": 0.5}, "q2": {"d3": 2.0}}
    qrels = {"q1": {"d1": 1, "d9": 0}}
    assert Run.from_dict(run).to_dict() == run
    assert Qrels.from_dict(qrels).to_dict() == qrels
