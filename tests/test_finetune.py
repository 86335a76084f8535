"""`rerankit train`: hard-negative mining on real SciFact train queries, and the training
plumbing for both kinds with tiny randomly initialised BERTs saved at test time (a real
sentence-transformers trainer run, in seconds); bad inputs are named errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from rerankit import datasets
from rerankit.data.loaders import Dataset
from rerankit.data.qrels import Qrels
from rerankit.errors import InputFormatError, MissingDependencyError

from .cli_helpers import invoke

pytest.importorskip("datasets", reason="rerankit train needs the 'datasets' package (extra "
                    "train)")
pytest.importorskip("sentence_transformers")

from rerankit.experiment import finetune

from .processes import start_paused


@pytest.fixture(scope="module")
def scifact_train() -> Dataset:
    return datasets.load("scifact", "train")


@pytest.fixture(scope="module")
def triples(scifact_train):
    return finetune.mine_triples(scifact_train, depth=20, limit=12, seed=1)


@pytest.fixture(scope="module")
def tiny_bi_encoder(tmp_path_factory) -> Path:
    """A 2-layer BERT (random weights) with mean pooling, saved as a sentence-transformers
    folder."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    from rerankit.retrieve.dense import default_model

    folder = tmp_path_factory.mktemp("tiny-bi-encoder")
    base = folder / "bert"
    tokenizer = BertTokenizerFast(vocab_file=str(Path(default_model()) / "vocab.txt"))
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                         num_attention_heads=2, intermediate_size=64)).save_pretrained(base)
    tokenizer.save_pretrained(base)
    word = Transformer(str(base), max_seq_length=64)
    encoder = SentenceTransformer(modules=[word, Pooling(32, "mean")], device="cpu")
    encoder.save(str(folder / "st"))
    return folder / "st"


def test_triples_pair_judged_positives_with_unjudged_bm25_negatives(scifact_train, triples):
    grades = scifact_train.qrels.to_dict()
    texts = {doc.full_text: doc.id for doc in scifact_train.corpus}
    queries = scifact_train.judged_queries()
    assert len(set(triples.query_ids)) <= 12 and len(triples.queries) >= 12
    for qid, query, positive, negative in zip(triples.query_ids, triples.queries,
                                              triples.positives, triples.negatives,
                                              strict=True):
        assert queries[qid] == query
        assert grades[qid].get(texts[positive], 0) > 0
        assert grades[qid].get(texts[negative], 0) <= 0
    expected = sum(1 for q in set(triples.query_ids) for g in grades[q].values() if g > 0)
    assert len(triples.queries) == expected


def test_documents_without_text_are_left_out_of_mining():
    """Cranfield has two documents without text ('471', '995'; '995' is judged relevant to
    query '125'): they are neither indexed nor used as positives, rather than refusing the
    collection with advice (on_empty='skip') that `rerankit train` has no option for."""
    cranfield = datasets.load("cranfield", "test")
    empty = {doc.id for doc in cranfield.corpus if not doc.full_text.strip()}
    assert empty == {"471", "995"} and cranfield.qrels.to_dict()["125"]["995"] > 0
    mined = finetune.mine_triples(cranfield, depth=20)
    assert all(text.strip() for text in mined.positives + mined.negatives)
    relevant = sum(1 for q, docs in cranfield.qrels.to_dict().items() for d, g in docs.items()
                   if g > 0 and d not in empty and q in mined.query_ids)
    assert len(mined.queries) == relevant and "125" in mined.query_ids


def test_train_command_trains_on_a_collection_with_empty_documents(tiny_bi_encoder,
                                                                   tmp_path):
    result = invoke([
        "train", str(tmp_path / "tuned"), "--model", str(tiny_bi_encoder), "--dataset",
        "cranfield", "--split", "test", "--limit", "4", "--depth", "10", "--batch-size", "4",
        "--max-length", "16", "--quiet"])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "tuned" / finetune.TRAINING_RECORD).read_text())
    assert record["split"] == "test" and record["queries"] == 4


def _weights(folder: Path) -> np.ndarray:
    from safetensors.numpy import load_file

    files = sorted(folder.rglob("model.safetensors"))
    return np.concatenate([v.ravel() for f in files for v in load_file(str(f)).values()])


def test_bi_encoder_training_writes_a_model_folder_dense_accepts(tiny_bi_encoder, triples,
                                                                 tmp_path):
    from rerankit.retrieve.dense import Dense

    record = finetune.train_encoder("bi-encoder", tiny_bi_encoder, triples,
                                    tmp_path / "tuned", "train", batch_size=8, max_length=32,
                                    learning_rate=1e-3)
    saved = json.loads((tmp_path / "tuned" / finetune.TRAINING_RECORD).read_text())
    assert saved == record and record["split"] == "train"
    assert record["examples"] == len(triples.queries) and record["seconds"] > 0
    assert not np.array_equal(_weights(tmp_path / "tuned"), _weights(tiny_bi_encoder))
    dense = Dense(str(tmp_path / "tuned"), quiet=True)
    vectors = dense.encode(["a query about proteins"], "")
    assert vectors.shape == (1, 32) and np.isfinite(vectors).all()
    assert dense.fingerprint() != Dense(str(tiny_bi_encoder), quiet=True).fingerprint()


def test_cross_encoder_training_from_a_cross_encoder_checkpoint(tiny_cross_encoder, triples,
                                                                tmp_path):
    from rerankit.rerank.pointwise import CrossEncoderReranker

    record = finetune.train_encoder("cross-encoder", tiny_cross_encoder, triples,
                                    tmp_path / "tuned", "train", batch_size=8, max_length=32,
                                    learning_rate=1e-3)
    assert record["examples"] == 2 * len(triples.queries)
    reranker = CrossEncoderReranker(str(tmp_path / "tuned"), quiet=True)
    assert len(reranker.model.predict([("q", "d")])) == 1


def test_wrong_model_kinds_are_named(tiny_bi_encoder, tiny_cross_encoder, tmp_path):
    with pytest.raises(InputFormatError, match="it is a sentence-transformers bi-encoder"):
        finetune.check_base(tiny_bi_encoder, "cross-encoder")
    with pytest.raises(InputFormatError, match="cross-encoder checkpoint given as a "
                                               "bi-encoder"):
        finetune.check_base(tiny_cross_encoder, "bi-encoder")
    with pytest.raises(InputFormatError, match="does not exist"):
        finetune.check_base(tmp_path / "missing", "bi-encoder")


def test_a_split_without_judgements_is_named(scifact_train):
    empty = Dataset("scifact", scifact_train.corpus, scifact_train.queries,
                    Qrels.from_dict({}))
    with pytest.raises(InputFormatError, match="no judged queries"):
        finetune.mine_triples(empty, split="dev")


def test_missing_datasets_package_names_the_extra(monkeypatch, tiny_bi_encoder, triples,
                                                  tmp_path):
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(MissingDependencyError, match=r"rerankit\[train\]"):
        finetune.train_encoder("bi-encoder", tiny_bi_encoder, triples, tmp_path / "x", "train")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("arguments, message", [
    (["--kind", "colbert"],
     "argument --kind: invalid choice: 'colbert' (choose from 'bi-encoder', 'cross-encoder')"),
    (["--kind", "cross-encoder"], "'--model': required for cross-encoders"),
    (["--epochs", "0"], "argument --epochs: must be at least 1, got 0"),
])
def test_train_command_names_bad_options(tmp_path, capsys, arguments, message):
    from rerankit.cli import main

    with pytest.raises(SystemExit) as done:
        main(["train", str(tmp_path / "out"), *arguments])
    assert done.value.code == 2
    error = capsys.readouterr().err
    assert message in error and len(error.splitlines()) == 1, error
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("record", [None, "{}", '{"files": ["thesis.tex"], "kind": 1}'])
def test_train_command_never_writes_into_a_foreign_folder(tmp_path, capsys, record):
    """A folder of the user's, also one holding a training record rerankit did not write
    (no list of files, or one naming another file), is refused with one line before any
    work, naming the first file it would have deleted."""
    from rerankit.cli import main

    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    if record is not None:
        (folder / finetune.TRAINING_RECORD).write_text(record)
    with pytest.raises(SystemExit) as done:
        main(["train", str(folder)])
    error = capsys.readouterr().err
    assert done.value.code == 2 and len(error.splitlines()) == 1, error
    assert f"{folder}: folder holds files not written by 'rerankit train' (notes.txt" in error
    assert (folder / "notes.txt").read_text() == "mine"


def test_training_replaces_only_its_own_output(tiny_bi_encoder, triples, tmp_path, capsys):
    """The tester's repro: a user's file added to an earlier output makes it the user's
    folder (the API and the command both refuse, naming the file); untouched, the output
    is replaced."""
    from rerankit.cli import main
    from rerankit.errors import OutputWriteError

    folder = tmp_path / "tuned"
    for _ in range(2):                                   # its own output: replaced
        record = finetune.train_encoder("bi-encoder", tiny_bi_encoder, triples, folder,
                                        "train", batch_size=8, max_length=16)
    assert "model.safetensors" in record["files"]
    assert finetune.foreign_entries(folder) == []
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    (folder / "NOTES.md").write_text("mine")
    (folder / "1_Pooling" / "draft.txt").write_text("mine")   # inside a folder it writes
    with pytest.raises(OutputWriteError, match=r"holds files rerankit did not write "
                                               r"\(1_Pooling/draft\.txt, NOTES\.md\)"):
        finetune.train_encoder("bi-encoder", tiny_bi_encoder, triples, folder, "train",
                               batch_size=8, max_length=16)
    with pytest.raises(SystemExit) as done:
        main(["train", str(folder), "--model", str(tiny_bi_encoder), "--limit", "2"])
    assert done.value.code == 2 and "(1_Pooling/draft.txt, NOTES.md)" in capsys.readouterr().err
    assert (folder / "NOTES.md").read_text() == "mine"
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == \
        {**before, folder / "NOTES.md": b"mine", folder / "1_Pooling" / "draft.txt": b"mine"}


def test_train_shows_no_library_progress_bars_off_a_terminal(tiny_bi_encoder, tmp_path):
    """A real `rerankit train` with stdout and stderr piped: the libraries' bars
    (transformers' "Loading weights", sentence-transformers' "Computing widget examples",
    datasets' "Map", any tqdm bar) stay silent, as in `rerankit run`."""
    import os
    import subprocess

    environment = {k: v for k, v in os.environ.items()
                   if k not in ("RERANKIT_DEBUG", "RERANKIT_QUIET", "TQDM_DISABLE")}
    environment["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    result = subprocess.run(
        [sys.executable, "-m", "rerankit", "train", str(tmp_path / "tuned"), "--model",
         str(tiny_bi_encoder), "--limit", "4", "--depth", "10", "--batch-size", "4",
         "--max-length", "16"], env=environment, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "tuned" / finetune.TRAINING_RECORD).is_file()
    for bar in ("Loading weights", "Computing widget examples", "it/s]", "%|"):
        assert bar not in result.stderr + result.stdout, result.stderr


@pytest.mark.parametrize("quiet", [True, None])
def test_library_progress_silences_every_tqdm_bar_for_the_block_only(quiet, monkeypatch):
    """Off a terminal (or quiet) every tqdm variant is silent inside the block, and the
    libraries' switches are back as they were after it."""
    import io

    from tqdm import tqdm as plain
    from tqdm.auto import tqdm as auto
    from transformers.utils import logging as hf_logging

    from rerankit.progress import library_progress

    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    before = hf_logging.is_progress_bar_enabled()
    inside = io.StringIO()
    with library_progress(quiet):
        for bar in (plain, auto):
            list(bar(range(3), desc="bar", file=inside))
            list(bar(range(3), "bar", None, True, inside))          # positional too
        assert not hf_logging.is_progress_bar_enabled()
    assert inside.getvalue() == ""
    assert hf_logging.is_progress_bar_enabled() == before
    after = io.StringIO()
    list(plain(range(3), desc="bar", file=after))
    assert "bar" in after.getvalue()


PAUSED_TRAIN = """
import sys, time
from pathlib import Path
from rerankit.cli import main
from rerankit.experiment import finetune
ready = Path(sys.argv.pop(1))
def paused(staging):
    ready.write_text(str(staging))
    time.sleep(120)
finetune._remove_checkpoints = paused
main()
"""


def test_sigterm_during_train_is_one_line_and_leaves_no_staging_folder(tiny_bi_encoder,
                                                                      tmp_path):
    """`rerankit train` killed by SIGTERM (timeout, kill) while its model folder is being
    written: one line, status 143, and no `.tuned.XXXX` staging folder left behind."""
    import signal

    models, ready = tmp_path / "models", tmp_path / "ready"
    models.mkdir()
    process = start_paused(PAUSED_TRAIN, ready, [
        "train", str(models / "tuned"), "--model", str(tiny_bi_encoder), "--limit", "4",
        "--depth", "10", "--batch-size", "4", "--max-length", "16"], timeout=300)
    assert Path(ready.read_text()).parent == models
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 143, stderr
    assert stderr.splitlines() == ["rerankit: error: terminated"]
    assert list(models.iterdir()) == []
