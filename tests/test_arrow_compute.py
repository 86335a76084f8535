"""``rerankit.data.arrow_compute`` calls Arrow's compute functions as ``pyarrow.compute``
does (same results for the calls rerankit makes), and ``rerankit eval`` never imports
``pyarrow.compute``, whose wrappers cost an eighth of its start (issue 18)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as reference
import pytest

from rerankit.data import arrow_compute

REPO = Path(__file__).resolve().parents[1]
AQUAINT = REPO.parent / "shared" / "data" / "aquaint-runs"

words = pa.chunked_array([["b", "a", None, "a#", "+7"], ["c d", " e\t", "b"]])
numbers = pa.array([3.5, -0.0, 2.0, None, 7.25])
flags = pa.array([True, False, None, True, True])
lists = pa.array([["x", "y"], ["z"], []])
table = pa.table({"q": ["2", "1", "1", "2"], "s": [0.5, 0.5, 2.0, -1.0]})

# Each call's form as rerankit writes it: arrays positionally, options by keyword or
# positionally, both argument kinds.
CALLS = [
    ("all", (flags,), {}), ("any", (flags,), {}), ("all", (flags,), {"skip_nulls": False}),
    ("ascii_split_whitespace", (words,), {}), ("ascii_trim_whitespace", (words,), {}),
    ("binary_join", (lists, "-"), {}),
    ("binary_join_element_wise", (words, words, " "), {}),
    ("binary_join_element_wise", (words, "\n", ""), {}),
    ("binary_length", (words,), {}),
    ("cast", (numbers, pa.string()), {}), ("cast", (pa.array(["1", "02", "-3"]), pa.int64()), {}),
    ("cast", (numbers, pa.int64()), {"safe": False}), ("cast", (words, "large_string"), {}),
    ("dictionary_encode", (words,), {}), ("ends_with", (words, "a"), {}),
    ("equal", (words, "a"), {}), ("equal", (numbers, numbers), {}),
    ("fill_null", (flags, False), {}), ("fill_null", (numbers, pa.scalar(1, pa.int32())), {}),
    ("filter", (numbers, flags), {}), ("greater", (numbers, 1), {}),
    ("index_in", (words,), {"value_set": pa.array(["a", "b"])}),
    ("invert", (flags,), {}), ("is_in", (words,), {"value_set": pa.array(["c d"])}),
    ("is_valid", (numbers,), {}), ("list_element", (lists.slice(0, 2), 0), {}),
    ("list_value_length", (lists,), {}), ("match_substring", (words, "\x00"), {}),
    ("match_substring_regex", (words, r"^[a-c]"), {}), ("match_substring_regex", (words,),
                                                        {"pattern": "#$"}),
    ("replace_substring_regex", (words, r"^\+", ""), {}),
    ("replace_substring_regex", (words,), {"pattern": "a", "replacement": "A"}),
    ("sort_indices", (table,), {"sort_keys": [("q", "ascending"), ("s", "descending")]}),
    ("sort_indices", (numbers,), {"sort_keys": [("", "descending")]}),
    ("starts_with", (words, "#"), {}), ("starts_with", (words,), {"pattern": "+"}),
    ("take", (words, np.array([6, 0, 0])), {}), ("unique", (words,), {}),
    ("value_counts", (words,), {}),
]


def test_every_function_rerankit_calls_is_covered():
    used = set()
    for source in (REPO / "rerankit").rglob("*.py"):
        used |= set(re.findall(r"\bpc\.([a-z_]+)\(", source.read_text()))
    assert used <= {name for name, _, _ in CALLS}, sorted(used - {n for n, _, _ in CALLS})


@pytest.mark.parametrize(("name", "args", "keywords"), CALLS,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CALLS)])
def test_call_equals_pyarrow_compute(name, args, keywords):
    ours = getattr(arrow_compute, name)(*args, **keywords)
    theirs = getattr(reference, name)(*args, **keywords)
    assert type(ours) is type(theirs)
    assert ours.equals(theirs)


def test_options_object_and_unknown_names():
    options = reference.MatchSubstringOptions("a")
    assert arrow_compute.starts_with(words, options=options).equals(
        reference.starts_with(words, options=options))
    with pytest.raises(AttributeError, match="no compute function 'no_such_function'"):
        arrow_compute.no_such_function  # noqa: B018
    with pytest.raises(TypeError, match="takes 2 positional"):
        arrow_compute.equal(words)
    with pytest.raises(pa.ArrowInvalid):        # a lossy cast stays refused by default
        arrow_compute.cast(pa.array([1.5]), pa.int64())


@pytest.mark.parametrize("options", [[], ["-q", "-c", "-m", "all_trec"],
                                     ["--compat", "9", "-J", "-M", "10", "--json"]])
def test_eval_does_not_import_pyarrow_compute(options):
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "rerankit", "eval", *options,
         str(AQUAINT / "trec_aq_303-689.qrels"), str(AQUAINT / "aq_bm25.res")],
        capture_output=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    imported = {line.rsplit("|", 1)[1].strip() for line in done.stderr.decode().splitlines()
                if line.startswith("import time:")}
    assert "pyarrow.compute" not in imported
    assert "pandas" not in imported
