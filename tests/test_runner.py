"""Benchmark configs: validation errors, outputs, refusal to overwrite, the leaderboard."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from rerankit.data.atomic import atomic_folder, atomic_write
from rerankit.errors import InputFormatError, OutputWriteError
from rerankit.experiment.config import load_config
from rerankit.experiment.runner import preflight, run_config
from rerankit.reporting.leaderboard import render

CONFIGS = Path(__file__).parents[1] / "configs"


def write(tmp_path, text, name="c.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_shipped_configs_validate():
    names = sorted(p.stem for p in CONFIGS.glob("*.yaml"))
    assert {"scifact-bm25", "scifact-dense", "scifact-hybrid", "cranfield-bm25",
            "vaswani-bm25", "scifact-bm25-minilm"} <= set(names)
    for path in CONFIGS.glob("*.yaml"):
        assert load_config(path).name == path.stem


BASE = "name: x\ndataset: {name: scifact}\nretriever: {type: bm25}\n"


@pytest.mark.parametrize("text, message", [
    ("name: x\ndataset: {name: scifact}\nretriever: {type: bm26}\n", "'retriever.type'"),
    ("name: x\ndataset: {name: scifact}\nretriever: {type: bm25}\ncolour: red\n", "'colour'"),
    ("name: x\ndataset: {name: scifact, path: /x}\nretriever: {type: bm25}\n",
     "exactly one of 'name'"),
    ("name: x\ndataset: {name: scifact}\nretriever: {type: fusion, retrievers: [{type: bm25}]}\n",
     "at least two"),
    ("name: x\ndataset: {name: scifact}\nretriever: {type: bm25}\ndepth: 0\n", "'depth'"),
    ("name: [unclosed\n", "not valid YAML"),
    (BASE + "rerankers: [{type: colbert}]\n",
     "unknown reranker type 'colbert'; available: bi-encoder, cross-encoder"),
    (BASE + "rerankers: [{type: bi-encoder, params: {modle: x}}]\n",
     "unknown parameter.*'modle'.*allowed: model, batch_size"),
    (BASE + "rerankers: [{type: listwise}]\n", "needs an 'llm' section"),
    (BASE + "rerankers: [{type: listwise, llm: {backend: llamacpp, model: m, "
            "params: {temperature: 1}}}]\n", "'temperature'.*allowed: n_ctx"),
    (BASE + "depth: 50\nrerankers: [{type: bi-encoder, depth: 100}]\n",
     "depth 100 is larger than the 50 candidates"),
    (BASE + "depth: 50\nrerankers: [{type: bi-encoder, depth: 20, cutoff: 30}]\n",
     "cutoff 30 is larger than the 20 candidates"),
    ("name: x\ndataset: {name: scifact}\nretriever: {type: bm25, params: {k1: true}}\n",
     r"parameter 'k1' of BM25: Input should be a valid number \(got true\)"),
    ("name: x\ndataset: {name: scifact}\nretriever: {type: bm25, params: {engine: bm26}}\n",
     "parameter 'engine' of BM25: Input should be 'bm25s' or 'rank-bm25'"),
    (BASE + "rerankers: [{type: cross-encoder, params: {batch_size: 2.5}}]\n",
     "parameter 'batch_size' of CrossEncoderReranker"),
    (BASE + "depth: true\n", r"'depth': Input should be a valid integer \(got true\)"),
    (BASE + "depth: 10.5\n", r"'depth': Input should be a valid integer \(got 10.5\)"),
    (BASE + "batch_size: '16'\n", "'batch_size'"),
    (BASE + "cache: 1\n", r"'cache': Input should be a valid boolean \(got 1\)"),
    (BASE + "queries: {limit: true}\n", "'queries.limit'"),
    (BASE + "rerankers: [{type: bi-encoder, cutoff: false}]\n", "'rerankers.0.cutoff'"),
    (BASE + "measures: [ndcg_cut_10, ndcg_cut_1O]\n", "'measures': unknown measure 'ndcg_cut_1O'"),
    (BASE + "measures: [nDCG@0]\n", "must be a positive integer"),
    (BASE + "measures: []\n", "'measures'"),
    ("name: my run\ndataset: {name: scifact}\nretriever: {type: bm25}\n", "'name'.*'my run'"),
    ("name: ../x\ndataset: {name: scifact}\nretriever: {type: bm25}\n", "'name'.*'../x'"),
    ("name: x\ndataset: {name: scifakt}\nretriever: {type: bm25}\n",
     "unknown embedded dataset 'scifakt'"),
    (BASE + "rerankers: [{type: yes-no, llm: {backend: llamacpp, model: 'offline:qwen9'}}]\n",
     "unknown offline model 'offline:qwen9'"),
    ("name: x\ndataset: {name: scifact}\nretriever: {type: fusion, retrievers: [{type: bm25}, "
     "{type: dense}], fusion: {method: weighted, weights: [1]}}\n", "1 values for 2 retrievers"),
    ("name: x\ndataset: {name: scifact}\nretriever: {type: fusion, retrievers: [{type: bm25}, "
     "{type: dense}], fusion: {method: rrf, weights: [1, 0]}}\n",
     "retriever.fusion.*'weights' are taken by method 'weighted' only"),
    (BASE + "rerankers: [{type: bi-encoder, fuse: {method: combsum, weights: [1, 2]}}]\n",
     "rerankers.0.fuse.*method 'combsum' would ignore them"),
])
def test_bad_configs_name_the_key(tmp_path, text, message):
    with pytest.raises(InputFormatError, match=message):
        load_config(write(tmp_path, text))


@pytest.mark.parametrize("text, line, key, first", [
    (BASE + "depth: 10\ndepth: 20\n", 5, "depth", 4),                     # top level
    ("name: x\nname: y\ndataset: {name: scifact}\nretriever: {type: bm25}\n", 2, "name", 1),
    ("name: x\ndataset: {name: scifact, name: cranfield}\nretriever: {type: bm25}\n", 2,
     "name", 2),                                                            # flow mapping
    (BASE + "rerankers:\n  - type: bi-encoder\n    params:\n      batch_size: 8\n"
            "      batch_size: 16\n", 8, "batch_size", 7),                 # nested, in a list
    (BASE + "cache: true\n\n# later\ncache: false\n", 7, "cache", 4),
])
def test_a_key_given_twice_is_refused_with_the_file_and_both_lines(tmp_path, text, line, key,
                                                                   first):
    path = write(tmp_path, text)
    with pytest.raises(InputFormatError) as raised:
        load_config(path)
    assert str(raised.value) == (f"{path}, line {line}: duplicate key {key!r} (first given on "
                                 f"line {first}); a key may appear once")


def test_yaml_merge_keys_may_be_overridden_and_equal_keys_elsewhere_are_fine():
    from rerankit.experiment.config import read_yaml

    assert read_yaml("a: &d {x: 1, y: 2}\nb:\n  <<: *d\n  x: 3\n") == \
        {"a": {"x": 1, "y": 2}, "b": {"x": 3, "y": 2}}
    assert read_yaml("a: {name: 1}\nb: {name: 2}\n") == {"a": {"name": 1}, "b": {"name": 2}}


@pytest.mark.parametrize("text", ["name: [unclosed\n", "name: x\n\tdepth: 1\n",
                                  "dataset: {name: x, split: y\nretriever:\n  type: bm25\n"])
def test_yaml_syntax_errors_name_the_file_and_line_not_a_unicode_string(tmp_path, text):
    path = write(tmp_path, text)
    with pytest.raises(InputFormatError) as raised:
        load_config(path)
    message = str(raised.value)
    assert message.startswith(f"{path}, line ") and "not valid YAML" in message
    assert "<unicode string>" not in message


@pytest.mark.parametrize("text, field", [
    (BASE.replace("{type: bm25}", "{type: bm25, params: {variant: nosuch}}"),
     "retriever.params.variant"),
    (BASE.replace("{type: bm25}", "{type: bm25, params: {engine: rank-bm25, variant: lucene}}"),
     "retriever.params.variant"),                  # bm25s' variant, not rank-bm25's
    ("name: x\ndataset: {name: scifact}\nretriever: {type: fusion, retrievers: [{type: bm25}, "
     "{type: bm25, params: {variant: x}}]}\n", "retriever.retrievers.1.params.variant"),
    (BASE.replace("{type: bm25}", "{type: bm25, params: {k1: true}}"), "retriever.params.k1"),
    (BASE + "depth: 10\nrerankers: [{type: bi-encoder, cutoff: 50}]\n", "rerankers.0.cutoff"),
    (BASE + "depth: 50\nrerankers: [{type: bi-encoder}, {type: cross-encoder, depth: 60}]\n",
     "rerankers.1.depth"),
    (BASE + "rerankers: [{type: cross-encoder, params: {batch_size: 2.5}}]\n",
     "rerankers.0.params.batch_size"),
    (BASE + "measures: [relstring, map]\n", "measures.0"),
    (BASE + "measures: [map, runid]\n", "measures.1"),
])
def test_a_bad_value_names_its_field_and_the_file(tmp_path, text, field):
    path = write(tmp_path, text)
    with pytest.raises(InputFormatError) as raised:
        load_config(path)
    assert str(raised.value).startswith(f"{path}: '{field}': "), str(raised.value)


@pytest.mark.parametrize("params, field, accepted", [
    ("{k1: -1}", "k1", "a finite number >= 0, got -1"),
    ("{k1: .nan}", "k1", "a finite number >= 0, got nan"),
    ("{k1: .inf}", "k1", "a finite number >= 0, got inf"),
    ("{b: 7}", "b", "a number from 0 to 1, got 7"),
    ("{b: .nan}", "b", "a number from 0 to 1, got nan"),
    ("{engine: rank-bm25, variant: bm25l, delta: -.inf}", "delta", "finite number >= 0"),
    ("{stemmer: klingon}", "stemmer", "PyStemmer's: arabic, .*english"),
    ("{stopwords: xx}", "stopwords", "known: en, english, .*or a list of words"),
])
def test_bm25_params_out_of_range_name_the_file_field_and_accepted_values(tmp_path, params,
                                                                          field, accepted):
    """Refused when the config is read, not as a KeyError from PyStemmer, bm25s' own words
    or (NaN, infinity) an empty run once every score is NaN."""
    path = write(tmp_path, BASE.replace("{type: bm25}", f"{{type: bm25, params: {params}}}"))
    with pytest.raises(InputFormatError, match=accepted) as raised:
        load_config(path)
    assert str(raised.value).startswith(f"{path}: 'retriever.params.{field}': ")


@pytest.mark.parametrize("params", ["{stemmer: porter, stopwords: de, k1: 0, b: 1}",
                                    "{stemmer: null, stopwords: [the, a]}"])
def test_bm25_languages_word_lists_and_range_ends_pass(tmp_path, params):
    path = write(tmp_path, BASE.replace("{type: bm25}", f"{{type: bm25, params: {params}}}"))
    assert load_config(path).retriever.params


@pytest.mark.parametrize("measure, reason", [
    ("relstring", "relstring has no value metrics.json could hold: trec_eval gives it per "
                  "query only"),
    ("relstring.20", "relstring_20 has no value metrics.json could hold"),
    ("runid", "runid has no value metrics.json could hold: it is the run's name")])
def test_measures_metrics_json_cannot_hold_are_refused_not_dropped(tmp_path, measure,
                                                                   reason):
    """Named in a config they were left out of metrics.json without a word; a nickname
    that brings them in (official) keeps its other measures, as compare does."""
    path = write(tmp_path, BASE + f"measures: [{measure}, map]\n")
    with pytest.raises(InputFormatError, match=reason):
        load_config(path)
    assert load_config(write(tmp_path, BASE + "measures: [official, num_q]\n"))


def test_run_writes_outputs_and_refuses_to_overwrite(tmp_path):
    config = load_config(CONFIGS / "cranfield-bm25.yaml")
    out = tmp_path / "out"
    result = run_config(config, out).metrics
    assert result.num_queries == 225
    assert 0.35 < result["ndcg_cut_10"] < 0.40
    metrics = json.loads((out / "metrics.json").read_text())
    manifest = json.loads((out / "manifest.json").read_text())
    assert metrics["ndcg_cut_10"] == result["ndcg_cut_10"]
    assert manifest["config_digest"] == config.digest() and manifest["queries"] == 225
    first = (out / "run.trec").read_bytes()
    run_config(config, out)                       # same config: allowed, same bytes
    assert (out / "run.trec").read_bytes() == first
    other = load_config(write(tmp_path, (CONFIGS / "cranfield-bm25.yaml").read_text()
                              .replace("k1: 1.2", "k1: 0.9")))
    with pytest.raises(InputFormatError, match="already holds another run"):
        run_config(other, out)
    run_config(other, out, force=True)
    assert "cranfield-bm25" in render([out])


def test_bad_retriever_parameter_is_named(tmp_path):
    with pytest.raises(InputFormatError, match=r"unknown parameter.*'k2'.*allowed: engine"):
        load_config(write(tmp_path, "name: x\ndataset: {name: cranfield}\n"
                                    "retriever: {type: bm25, params: {k2: 3}}\n"))


def test_missing_dataset_folder_is_named(tmp_path):
    config = load_config(write(tmp_path, f"name: x\ndataset: {{path: {tmp_path}/nowhere}}\n"
                                         "retriever: {type: bm25}\n"))
    with pytest.raises(InputFormatError, match=r"nowhere.*does not exist"):
        run_config(config, tmp_path / "o")


@pytest.mark.parametrize("dataset, field, words", [
    ("{{path: {t}/nowhere}}", "dataset.path", ["{t}/nowhere", "does not exist"]),
    ("{{path: {t}/c.yaml}}", "dataset.path", ["{t}/c.yaml is a file"]),
    ("{{path: {t}}}", "dataset.path", ["not a BEIR dataset folder", "corpus.jsonl",
                                       "qrels/test.tsv"]),
    ("{{path: {t}/beir, split: dev}}", "dataset.split", ["'dev'", "splits: test"]),
    ("{{name: cranfield, split: train}}", "dataset.split", ["'train'", "splits: test"]),
])
def test_dataset_mistakes_name_the_config_and_field_before_any_work(tmp_path, dataset, field,
                                                                    words):
    beir = tmp_path / "beir"
    (beir / "qrels").mkdir(parents=True)
    for name in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"):
        (beir / name).write_text("")
    path = write(tmp_path, f"name: x\ndataset: {dataset.format(t=tmp_path)}\n"
                 "retriever: {type: bm25}\n")
    with pytest.raises(InputFormatError) as raised:
        preflight(load_config(path), tmp_path / "o")
    message = str(raised.value)
    assert message.startswith(f"{path}: '{field}': "), message
    for word in words:
        assert word.format(t=tmp_path) in message, message


@pytest.mark.parametrize("stage, field", [
    ("rerankers: [{type: bi-encoder, params: {model: /nonexistent/model}}]",
     "rerankers.0.params.model"),
    ("rerankers: [{type: bi-encoder}, {type: cross-encoder, params: {model: ./no/such}}]",
     "rerankers.1.params.model"),
    # a file where a model folder goes passed before and failed only once the model loaded
    ("rerankers: [{type: bi-encoder, params: {model: {t}/a-file}}]",
     "rerankers.0.params.model"),
])
def test_a_missing_model_folder_names_the_config_and_field(tmp_path, stage, field):
    (tmp_path / "a-file").write_text("not a model folder")
    path = write(tmp_path, BASE.replace("scifact", "cranfield") +
                 stage.replace("{t}", str(tmp_path)) + "\n")
    with pytest.raises(InputFormatError) as raised:
        preflight(load_config(path), tmp_path / "o")
    assert str(raised.value).startswith(f"{path}: '{field}': the model folder "), raised.value


def _small_file_limit():
    """In the child process: files may not grow past 50 kB, and writing past it fails with
    EFBIG instead of killing the process, the way a full disk fails a write (ENOSPC)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))


def test_failed_write_leaves_the_previous_results_and_a_clear_error(tmp_path):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "rerankit", "run", str(CONFIGS / "cranfield-bm25.yaml"),
               "--output", str(out), "--no-cache", "-q"]
    subprocess.run(command, check=True, capture_output=True)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    failed = subprocess.run([*command, "--force"], capture_output=True, text=True,
                            preexec_fn=_small_file_limit)
    assert failed.returncode == 2
    assert failed.stderr.strip() == (f"rerankit: error: could not write {out}: File too large. "
                                     f"Nothing was written: {out} is as it was before")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]      # no temporary folder left


def test_atomic_folder_replaces_only_what_rerankit_wrote_and_leaves_no_temporaries(tmp_path):
    target = tmp_path / "index"
    target.mkdir()
    (target / "rerankit.json").write_text("{}")              # a saved index
    with atomic_folder(target) as staging:
        (staging / "rerankit.json").write_text("new")
        assert (target / "rerankit.json").read_text() == "{}"  # untouched until the end
    assert [p.name for p in target.iterdir()] == ["rerankit.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["index"]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("draft")
    with pytest.raises(OutputWriteError, match="holds files rerankit did not write"), \
            atomic_folder(mine) as staging:
        (staging / "rerankit.json").write_text("new")
    assert [p.name for p in mine.iterdir()] == ["thesis.tex"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index", "mine"]


def test_a_signal_held_during_the_swap_still_removes_the_previous_output(tmp_path,
                                                                          monkeypatch):
    """Ctrl-C arriving between the renames that replace an output is held until they are
    done and then delivered; the previous output, already moved aside, is still deleted
    (it stayed behind, unmarked, for good)."""
    import signal

    from rerankit.data import atomic

    target = tmp_path / "index"
    target.mkdir()
    (target / "rerankit.json").write_text("old")
    renames = []
    original = os.replace

    def replace(source, destination):
        original(source, destination)
        renames.append(destination)
        if Path(destination) == target:          # the new output is in place
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(atomic.os, "replace", replace)
    with pytest.raises(KeyboardInterrupt), atomic_folder(target) as staging:
        (staging / "rerankit.json").write_text("new")
    assert (target / "rerankit.json").read_text() == "new" and len(renames) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["index"]


def test_an_empty_folder_is_filled_in_place_after_a_dead_writers_staging_is_removed(tmp_path):
    import socket
    import subprocess
    import sys

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()                                          # a pid whose process is gone
    target = tmp_path / "out"
    stale = target / ".rerankit-staging.abcd1234"        # a killed in-place writer's
    stale.mkdir(parents=True)
    (stale / ".rerankit-staging").write_text(f"{gone.pid} {socket.gethostname()}\n")
    (stale / "run.trec").write_text("partial")
    inode = target.stat().st_ino
    with atomic_folder(target) as staging:
        assert staging.parent == target
        (staging / "rerankit.json").write_text("new")
    assert [p.name for p in target.iterdir()] == ["rerankit.json"]
    assert target.stat().st_ino == inode
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    unmarked = tmp_path / "mine"                         # no mark: never taken for staging
    (unmarked / ".rerankit-staging.abcd1234").mkdir(parents=True)
    with pytest.raises(OutputWriteError, match="holds files rerankit did not write"), \
            atomic_folder(unmarked):
        pass
    assert (unmarked / ".rerankit-staging.abcd1234").is_dir()


SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def tiny_beir(folder: Path, queries: dict[str, str], qrels: list[tuple[str, str, int]]) -> Path:
    docs = {"d1": "apple banana fruit salad", "d2": "car engine wheel repair",
            "d3": "river water boat trip", "d4": "apple pie recipe"}
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("".join(
        json.dumps({"_id": d, "title": "", "text": t}) + "\n" for d, t in docs.items()))
    (folder / "queries.jsonl").write_text("".join(
        json.dumps({"_id": q, "text": t}) + "\n" for q, t in queries.items()))
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(
        f"{q}\t{d}\t{g}\n" for q, d, g in qrels))
    return folder


@pytest.mark.parametrize("queries, qrels", [
    ({"1": "apple banana", "2": "zebra giraffe"}, [("1", "d1", 1), ("2", "d3", 1)]),
    ({"1": "apple", "2": "car wheel", "3": "zebra", "4": "giraffe lion"},
     [("1", "d4", 2), ("1", "d1", 1), ("2", "d2", 1), ("3", "d3", 1), ("4", "d1", 1)]),
    ({"q": "unknown words only", "r": "river boat"}, [("q", "d2", 1), ("r", "d3", 3)]),
])
def test_judged_queries_without_results_count_zero_as_trec_eval_c(tmp_path, trec_eval,
                                                                  queries, qrels):
    data = tiny_beir(tmp_path / "data", queries, qrels)
    config = load_config(write(tmp_path, f"name: tiny\ndataset: {{path: {data}}}\n"
                                         "retriever: {type: bm25}\ndepth: 10\n"
                                         "measures: [ndcg_cut_10, map, P_5, recall_100]\n"))
    out = tmp_path / "out"
    run_config(config, out, quiet=True)
    metrics = json.loads((out / "metrics.json").read_text())
    trec_qrels = tmp_path / "qrels.trec"
    trec_qrels.write_text("".join(f"{q} 0 {d} {g}\n" for q, d, g in qrels))
    reference = subprocess.run(
        [trec_eval, "-c", "-m", "ndcg_cut.10", "-m", "map", "-m", "P.5", "-m", "recall.100",
         "-m", "num_q", str(trec_qrels), str(out / "run.trec")],
        check=True, capture_output=True, text=True).stdout
    expected = {line.split()[0]: float(line.split()[2]) for line in reference.splitlines()}
    for name in ("ndcg_cut_10", "map", "P_5", "recall_100"):
        assert metrics[name] == pytest.approx(expected[name], abs=5e-5), name
    answered = {line.split()[0] for line in (out / "run.trec").read_text().splitlines()}
    assert metrics["num_q"] == expected["num_q"] == len(queries)
    assert metrics["num_q_with_results"] == len(answered) < len(queries)
    assert metrics["semantics"] and metrics["compat"] and metrics["average_complete"] is True
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "rerankit-result/1"
    assert manifest["evaluation"] == {k: metrics[k] for k in manifest["evaluation"]}


def test_force_replaces_only_a_result_folder_that_holds_nothing_else(tmp_path):
    config = load_config(write(tmp_path, "name: tiny\ndataset: {path: " +
                               str(tiny_beir(tmp_path / "data", {"1": "apple"},
                                             [("1", "d1", 1)])) +
                               "}\nretriever: {type: bm25}\n"))
    other = config.model_copy(update={"depth": 5})
    empty = tmp_path / "empty"
    empty.mkdir()
    run_config(config, empty, quiet=True)                       # an empty folder is fine
    run_config(other, empty, force=True, quiet=True)            # a result: replaced
    assert json.loads((empty / "manifest.json").read_text())["config_digest"] == \
        other.digest()
    (empty / "notes.txt").write_text("mine")
    with pytest.raises(InputFormatError, match=r"notes\.txt.*never deletes"):
        run_config(config, empty, force=True, quiet=True)
    assert (empty / "notes.txt").read_text() == "mine"
    user = tmp_path / "user"
    (user / "sub").mkdir(parents=True)
    (user / "manifest.json").write_text('{"config_digest": "x"}')   # not rerankit's
    with pytest.raises(InputFormatError, match="never replaces it") as refused:
        run_config(config, user, force=True, quiet=True)
    assert "--force" not in str(refused.value)
    assert sorted(p.name for p in user.iterdir()) == ["manifest.json", "sub"]


def test_an_entry_is_rerankits_only_as_the_kind_of_entry_it_writes(tmp_path):
    """A written name counts as rerankit's only as a regular file where it writes a file
    and a folder where it writes one; anything else under a written folder is the user's."""
    from rerankit.data.ownership import foreign_entries

    folder = tmp_path / "out"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.json").write_text("{}")
    (folder / "run.trec").write_text("q Q0 d 1 1 t\n")
    assert foreign_entries(folder, ["run.trec", "sub/a.json"]) == []
    (folder / "sub" / "thesis.tex").write_text("draft")             # inside a written folder
    (folder / "ledger.json").mkdir()                                # a folder for a file
    (folder / "metrics.json").symlink_to(folder / "run.trec")      # a link for a file
    (folder / "data").write_text("x")                               # a file for a folder
    written = ["run.trec", "ledger.json", "metrics.json", "sub/a.json", "data/b.npy"]
    assert foreign_entries(folder, written) == ["data", "ledger.json", "metrics.json",
                                                "sub/thesis.tex"]
    (tmp_path / "empty").mkdir()
    assert foreign_entries(tmp_path / "empty", ["run.trec"]) == []


def test_result_names_that_are_not_regular_files_are_never_replaced(tmp_path):
    """A folder named like a result file, with or without --force, and through the
    atomic write too (it checks again at the end): refused, naming it; nothing deleted."""
    from rerankit.experiment.runner import result_foreign_entries

    config = load_config(write(tmp_path, "name: tiny\ndataset: {path: " +
                               str(tiny_beir(tmp_path / "data", {"1": "apple"},
                                             [("1", "d1", 1)])) +
                               "}\nretriever: {type: bm25}\n"))
    out = tmp_path / "out"
    run_config(config, out, quiet=True)
    for name, force in (("run.trec", True), ("ledger.json", False)):
        saved = (out / name).read_bytes()
        (out / name).unlink()
        (out / name).mkdir()
        (out / name / "thesis.tex").write_text("draft")
        with pytest.raises(InputFormatError, match=rf"{name} \(a folder\).*never deletes"):
            run_config(config, out, force=force, quiet=True)
        assert result_foreign_entries(out) == [name]
        with pytest.raises(OutputWriteError, match=rf"{name} \(a folder\)"), \
                atomic_folder(out, foreign=result_foreign_entries):
            pass
        assert (out / name / "thesis.tex").read_text() == "draft"
        shutil.rmtree(out / name)
        (out / name).write_bytes(saved)
    run_config(config, out, force=True, quiet=True)                 # its own again: fine


def test_preflight_fails_before_loading_anything(tmp_path, monkeypatch):
    config = load_config(write(tmp_path, "name: x\ndataset: {name: cranfield}\n"
                                         "retriever: {type: bm25}\nrerankers: [{type: "
                                         "cross-encoder, params: {model: /nonexistent}}]\n"))
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("RERANKIT_CACHE", str(tmp_path / "file"))
    with pytest.raises(InputFormatError, match="RERANKIT_CACHE must name a folder"):
        run_config(config, tmp_path / "out")
    monkeypatch.setenv("RERANKIT_CACHE", str(tmp_path / "cache"))
    with pytest.raises(InputFormatError, match="is a folder"):
        run_config(config, tmp_path / "out", cache=tmp_path)
    with pytest.raises(OutputWriteError, match="is a file, not a folder"):
        run_config(config, tmp_path / "file" / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml", "file"]


def test_atomic_writes_keep_symbolic_links(tmp_path):
    from rerankit.data.atomic import atomic_write

    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "rerankit.json").write_text("{}")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with atomic_folder(tmp_path / "link") as staging:
        (staging / "rerankit.json").write_text("new")
    (tmp_path / "file.md").write_text("old")
    (tmp_path / "file-link.md").symlink_to(tmp_path / "file.md")
    with atomic_write(tmp_path / "file-link.md") as handle:
        handle.write("new")
    assert (tmp_path / "link").is_symlink() and (tmp_path / "file-link.md").is_symlink()
    assert (tmp_path / "real" / "rerankit.json").read_text() == "new"
    assert (tmp_path / "file.md").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file-link.md", "file.md", "link",
                                                          "real"]


def test_written_files_and_folders_get_ordinary_permissions(tmp_path):
    """Outputs are readable as any file the user creates (umask), not private like the
    temporary files they are written through; a replaced file keeps its mode."""
    mask = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "page.html") as handle:
            handle.write("x")
        with atomic_folder(tmp_path / "result") as folder:
            (folder / "run.trec").write_text("y")
        assert (tmp_path / "page.html").stat().st_mode & 0o777 == 0o644
        assert (tmp_path / "result").stat().st_mode & 0o777 == 0o755
        (tmp_path / "page.html").chmod(0o640)
        with atomic_write(tmp_path / "page.html") as handle:
            handle.write("z")
        assert (tmp_path / "page.html").stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(mask)


def test_a_manifest_whose_config_is_not_an_object_is_not_a_result_folder(tmp_path):
    """Only a manifest rerankit could have written marks a replaceable folder; a broken one
    (config not an object) is refused with one line, not an AttributeError."""
    from rerankit.experiment.runner import read_manifest

    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps(
        {"config": "x", "config_digest": "d", "stages": [], "packages": {}}))
    assert read_manifest(folder) is None


def test_unreadable_config_is_a_named_error(tmp_path):
    with pytest.raises(InputFormatError, match="is a directory, not a config file"):
        load_config(tmp_path)
    gz = tmp_path / "c.yaml.gz"
    gz.write_bytes(b"not gzip")
    with pytest.raises(InputFormatError, match=r"c\.yaml\.gz"):
        load_config(gz)


def test_every_stored_result_folder_is_its_config_unchanged():
    """The leaderboard's result folders carry their config's digest: a change to the
    config model must not change it (or `rerankit run` would refuse to refresh them and the
    quick start would stop), unless the folders are regenerated."""
    results = CONFIGS.parent / "leaderboards" / "results"
    checked = 0
    for config in sorted(CONFIGS.glob("*.yaml")):
        manifest = results / config.stem / "manifest.json"
        if manifest.is_file():
            stored = json.loads(manifest.read_text())["config_digest"]
            assert load_config(config).digest() == stored, config.name
            checked += 1
    assert checked >= 8


def test_signals_wait_until_the_renames_are_done():
    """Ctrl-C inside signals_deferred arrives after the block (two renames are never split)."""
    from rerankit.data.atomic import signals_deferred

    reached_end = False
    with pytest.raises(KeyboardInterrupt), signals_deferred():
        os.kill(os.getpid(), signal.SIGINT)
        reached_end = True
    assert reached_end
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_failed_fill_in_place_leaves_the_empty_folder_empty(tmp_path, monkeypatch):
    target = tmp_path / "out"
    target.mkdir()
    real_replace = os.replace
    moves = []

    def failing_second_move(src, dst):
        moves.append(dst)
        if len(moves) == 2:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    with pytest.raises(OutputWriteError, match="No space left"), \
            atomic_folder(target) as staging:
        for name in ("a.json", "b.json", "c.json"):
            (staging / name).write_text("{}")
        monkeypatch.setattr(os, "replace", failing_second_move)
    assert list(target.iterdir()) == []              # nothing half-filled, no staging left


def test_the_current_folder_is_not_replaced_through_a_symlink(tmp_path, monkeypatch):
    from rerankit.data.atomic import check_not_current

    real = tmp_path / "real"
    real.mkdir()
    (real / "run.trec").write_text("x")
    (tmp_path / "link").symlink_to(real)
    monkeypatch.chdir(real)
    with pytest.raises(OutputWriteError, match="current folder"):
        check_not_current(tmp_path / "link")


def test_a_config_asking_for_preference_measures_is_refused_when_read(tmp_path):
    config = tmp_path / "prefs.yaml"
    config.write_text("name: cran\ndataset: {name: cranfield}\nretriever: {type: bm25}\n"
                      "measures: [map, prefs_simp]\n")
    with pytest.raises(InputFormatError, match="prefs_simp"):
        load_config(config)


@pytest.mark.skipif(not Path("/proc/self/ns/pid").exists(), reason="needs Linux /proc")
def test_stale_staging_is_judged_by_host_pid_namespace_boot_and_start_time(tmp_path):
    """A staging folder is removed only when the process that marked it is certainly gone:
    same host, pid namespace and boot, and a dead pid or a pid reused by a process that
    started later. A live process's folder, another namespace's, host's or boot's (its
    pid means nothing here: another boot id may be another machine of the same name) and
    anything malformed, an impossible pid included, are kept."""
    import socket

    from rerankit.data.atomic import STAGING_MARK, _process_mark, remove_stale_staging

    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    try:
        mark = list(_process_mark(live.pid))
        stat = Path(f"/proc/{live.pid}/stat").read_text().rsplit(")", 1)[1].split()
        assert mark[4] == stat[19] and mark[1] == socket.gethostname()
        dead_mark = [str(dead.pid), *mark[1:]]
        marks = {
            "live": mark,
            "reused-pid": [*mark[:4], str(int(mark[4]) - 1)],
            "dead": dead_mark,
            "previous-boot": [*mark[:3], "00000000-0000-0000-0000-000000000000", mark[4]],
            "other-namespace": [dead_mark[0], mark[1], "pid:[1]", *mark[3:]],
            "other-host": [dead_mark[0], "another-host.example", *mark[2:]],
            "old-format-dead": dead_mark[:2],
            "old-format-live": mark[:2],
            "malformed": mark[:3],
            "huge-pid": [str(2 ** 64), *mark[1:]],
            "huge-pid-old-format": ["99999999999999", mark[1]],
        }
        for name, fields in marks.items():
            folder = tmp_path / f".out.{name}"
            folder.mkdir()
            (folder / STAGING_MARK).write_text(" ".join(fields) + "\n")
        removed = remove_stale_staging(tmp_path / "out")
    finally:
        live.kill()
        live.wait()
    assert sorted(p.name for p in removed) == [".out.dead", ".out.old-format-dead",
                                               ".out.reused-pid"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f".out.{name}" for name in ("live", "other-namespace", "other-host", "previous-boot",
                                    "old-format-live", "malformed", "huge-pid",
                                    "huge-pid-old-format"))
