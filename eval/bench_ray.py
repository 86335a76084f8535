"""Speed-up of 2 Ray workers over 1 for a CPU-bound reranking stage, on this machine.

The stage is a MiniLM-sized cross-encoder: the offline all-MiniLM-L6-v2 encoder with a
randomly initialised one-logit head (the compute of an ms-marco MiniLM cross-encoder; the
scores mean nothing, so only time is reported). It reranks BM25's top 20 for 100 SciFact
queries (2,000 pairs, max_length 256), without the score cache. Timed: the query phase of
each run (Ray: from the first batch submitted to the last merged; in process: the stage
seconds of the ledger); Ray's start-up and model loading are excluded and printed apart.
All three runs must write byte-identical run files.

Run: ``python eval/bench_ray.py``; results in eval/results/ray.json.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path


def cross_encoder_folder() -> Path:
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from rerankit.retrieve.dense import default_model

    folder = Path(tempfile.mkdtemp(prefix="minilm-ce-"))
    config = BertConfig.from_pretrained(default_model(), num_labels=1)
    model = BertForSequenceClassification.from_pretrained(default_model(), config=config)
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(default_model()).save_pretrained(folder)
    return folder


def main() -> None:
    import ray

    from rerankit.experiment.config import load_config
    from rerankit.experiment.distributed import RayEngine, RayOptions
    from rerankit.experiment.runner import run_config

    work = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    config_path = work / "config.yaml"
    config_path.write_text(
        "name: scifact-bm25-minilm-ce\ndataset: {name: scifact}\n"
        "retriever: {type: bm25, params: {backend: numpy}}\ndepth: 20\n"
        "queries: {limit: 100, seed: 7}\nbatch_size: 10\ncache: false\n"
        f"rerankers: [{{type: cross-encoder, params: {{model: '{cross_encoder_folder()}', "
        "max_length: 256}}]\n")
    config = load_config(config_path)
    results: dict = {}
    outcome = run_config(config, work / "local", quiet=True)
    results["in-process (2 threads)"] = outcome.ledger.totals()[1]["seconds"]
    for workers in (1, 2):
        start = time.perf_counter()
        ray.init(num_cpus=workers, num_gpus=0, include_dashboard=False, log_to_driver=False,
                 configure_logging=False, _node_ip_address="127.0.0.1")
        try:
            outcome = run_config(config, work / f"ray-{workers}", quiet=True,
                                 engine=RayEngine(RayOptions(workers=workers,
                                                                    cpus_per_worker=1)))
        finally:
            ray.shutdown()
        total = time.perf_counter() - start
        phase = outcome.ledger.setup_seconds["ray workers (wall)"]
        results[f"ray {workers} worker(s) x 1 CPU"] = phase
        results[f"ray {workers} worker(s): start-up, loading, indexing"] = total - phase
        same = (work / f"ray-{workers}" / "run.trec").read_bytes() == \
            (work / "local" / "run.trec").read_bytes()
        results[f"ray {workers} worker(s): run file identical to in-process"] = same
    results["speed-up, 2 workers over 1"] = (results["ray 1 worker(s) x 1 CPU"]
                                             / results["ray 2 worker(s) x 1 CPU"])
    out = Path(__file__).parent / "results" / "ray.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    for key, value in results.items():
        print(f"{key:55s} {value:.2f}" if isinstance(value, float) else f"{key:55s} {value}")


if __name__ == "__main__":
    main()
