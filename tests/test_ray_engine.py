"""The Ray engine on a real local Ray instance (2 workers x 1 CPU): the same bytes as the
in-process engine, the score cache written by the driver and resumed through workers,
sharded corpus encoding, and clear errors."""

from __future__ import annotations

import json
import sys
import threading
import time

import pytest

from rerankit.errors import MissingDependencyError, RerankitError
from rerankit.experiment.config import load_config
from rerankit.experiment.distributed import RayEngine
from rerankit.experiment.runner import run_config

ray = pytest.importorskip("ray")
pytest.importorskip("sentence_transformers")

OUTPUTS = ("run.trec", "metrics.json", "manifest.json")


def same_outputs(a, b) -> None:
    """Byte-identical outputs; manifests equal but for the cache folders each run was
    told to use (their ``settings``)."""
    for name in OUTPUTS:
        if name == "manifest.json":
            first, second = (json.loads((x / name).read_text()) for x in (a, b))
            first.pop("settings"), second.pop("settings")
            assert first == second, name
        else:
            assert (a / name).read_bytes() == (b / name).read_bytes(), name


@pytest.fixture(scope="module")
def ray_options():
    from rerankit.experiment.distributed import RayOptions

    ray.init(num_cpus=2, num_gpus=0, include_dashboard=False, log_to_driver=False,
             configure_logging=False, _node_ip_address="127.0.0.1")
    yield RayOptions(workers=2, cpus_per_worker=1)
    ray.shutdown()


def test_reranking_on_ray_equals_in_process(ray_options, tiny_cross_encoder, tmp_path,
                                            monkeypatch):
    monkeypatch.setenv("RERANKIT_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "c.yaml"
    path.write_text("name: cranfield-tiny-ce\ndataset: {name: cranfield, on_empty: skip}\n"
                    "retriever: {type: bm25, params: {backend: numpy}}\ndepth: 20\n"
                    "queries: {limit: 30, seed: 3}\nbatch_size: 4\n"
                    f"rerankers: [{{type: cross-encoder, params: {{model: '{tiny_cross_encoder}'"
                    ", max_length: 128}, cutoff: 10}]\n")
    config = load_config(path)
    run_config(config, tmp_path / "local", quiet=True, cache=False)
    outcome = run_config(config, tmp_path / "ray", quiet=True, engine=RayEngine(ray_options))
    same_outputs(tmp_path / "local", tmp_path / "ray")
    assert outcome.ledger.totals()[1]["candidates"] == 30 * 20
    # the driver stored every worker's scores: a second run resumes all of them
    again = run_config(config, tmp_path / "ray", quiet=True, engine=RayEngine(ray_options))
    assert again.ledger.totals()[1]["cache_hits"] == 30 * 20
    same_outputs(tmp_path / "local", tmp_path / "ray")


def test_a_worker_that_dies_is_restarted_and_its_batch_retried(ray_options, tiny_cross_encoder,
                                                               tmp_path):
    from rerankit.experiment.distributed import WORKER_PREFIX

    path = tmp_path / "c.yaml"
    path.write_text("name: scifact-tiny-ce\ndataset: {name: scifact}\n"
                    "retriever: {type: bm25, params: {backend: numpy}}\ndepth: 20\n"
                    "queries: {limit: 80, seed: 5}\nbatch_size: 2\ncache: false\n"
                    f"rerankers: [{{type: cross-encoder, params: {{model: '{tiny_cross_encoder}'"
                    ", max_length: 256}}]\n")
    config = load_config(path)
    run_config(config, tmp_path / "local", quiet=True)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            run_config(config, tmp_path / "ray", quiet=True, engine=RayEngine(ray_options))
        except BaseException as err:          # reported by the assertion below
            errors.append(err)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.time() + 120
    names: list[str] = []
    while not names and time.time() < deadline:
        names = [n for n in ray.util.list_named_actors() if n.startswith(WORKER_PREFIX)]
        time.sleep(0.2)
    time.sleep(4)                             # let the workers load and start on batches
    assert names and thread.is_alive(), "the run ended before a worker could be killed"
    ray.kill(ray.get_actor(names[0]), no_restart=False)
    thread.join(timeout=600)
    assert not errors, errors
    same_outputs(tmp_path / "local", tmp_path / "ray")


def test_sharded_corpus_encoding_equals_in_process(ray_options, tmp_path, monkeypatch):
    path = tmp_path / "d.yaml"
    path.write_text("name: cranfield-dense\ndataset: {name: cranfield, on_empty: skip}\n"
                    "retriever: {type: dense}\ndepth: 50\nqueries: {limit: 20, seed: 1}\n")
    config = load_config(path)
    monkeypatch.setenv("RERANKIT_CACHE", str(tmp_path / "cache-local"))
    run_config(config, tmp_path / "local", quiet=True)
    monkeypatch.setenv("RERANKIT_CACHE", str(tmp_path / "cache-ray"))
    run_config(config, tmp_path / "ray", quiet=True, engine=RayEngine(ray_options))
    same_outputs(tmp_path / "local", tmp_path / "ray")
    ledger = json.loads((tmp_path / "ray" / "ledger.json").read_text())
    assert "ray workers (wall)" in ledger["setup_seconds"]


def test_missing_ray_and_unreachable_cluster(monkeypatch):
    from rerankit.experiment.distributed import _check_reachable, import_ray

    with pytest.raises(RerankitError, match=r"cannot reach the Ray cluster at 127\.0\.0\.1:1"):
        _check_reachable("127.0.0.1:1")
    with pytest.raises(RerankitError, match="not HOST:PORT"):
        _check_reachable("somewhere")
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(MissingDependencyError, match=r"rerankit\[ray\]"):
        import_ray()
