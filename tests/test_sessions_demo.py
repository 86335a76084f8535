"""The shipped demo log with satisfaction labels (rerankit/sessions/demo/satisfaction.jsonl):
how it is generated, and that the shipped file is exactly what this generator writes.

The log is SIMULATED, not collected from users: 80 sessions of 1-4 queries over per-session
pools of 30 documents with hidden grades 0-3; each session's system has its own quality
(how often relevant documents are ranked high); clicks follow a cascade model (a user reads
down, clicks a result with probability 0.1 / 0.5 / 0.7 / 0.9 by grade, and stops after a
click with probability 0.4); a query's satisfaction (1-5) rises with the discounted gain of
what its user clicked, the session's satisfaction with the gain of everything found, minus
a penalty per reformulation, plus noise. It exists to show the meta-evaluation workflow;
its correlations say nothing about real users.

Regenerate with ``python tests/test_sessions_demo.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

DEMO = Path(__file__).resolve().parents[1] / "rerankit" / "sessions" / "demo" / \
    "satisfaction.jsonl"


def generate(seed: int = 2024, sessions: int = 80) -> str:
    """The demo log as JSONL text (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    click_p = np.array([0.1, 0.5, 0.7, 0.9])
    lines = []
    for s in range(sessions):
        grades = rng.choice(4, size=30, p=[0.55, 0.2, 0.15, 0.1])
        quality = rng.uniform(0, 1)
        interactions, found, session_gain = [], set(), 0.0
        for q in range(int(rng.integers(1, 5))):
            noise = rng.normal(0, 1.5, 30)
            order = np.argsort(-(quality * 3 * grades + noise))[:10]
            clicks, gain = [], 0.0
            stopped = False
            for rank, d in enumerate(order, 1):
                clicked = not stopped and rng.random() < click_p[grades[d]]
                clicks.append(int(clicked))
                if clicked:
                    gain += (2 ** grades[d] - 1) / np.log2(rank + 1)
                    if d not in found:
                        found.add(int(d))
                        session_gain += 2 ** grades[d] - 1
                    stopped = rng.random() < 0.4
            query_sat = int(np.clip(round(1 + gain / 4 + rng.normal(0, 0.7)), 1, 5))
            interactions.append({"query_id": f"t{s}-q{q + 1}", "query": f"topic {s} query {q + 1}",
                                 "results": [f"s{s}-d{int(d)}" for d in order],
                                 "clicks": clicks,
                                 "labels": [int(grades[d]) for d in order],
                                 "satisfaction": query_sat})
        satisfaction = np.clip(1 + session_gain / 6 - 0.4 * (len(interactions) - 1)
                               + rng.normal(0, 0.6), 1, 5)
        lines.append(json.dumps({"session_id": f"s{s}",
                                 "satisfaction": round(float(satisfaction), 1),
                                 "interactions": interactions}))
    return "\n".join(lines) + "\n"


def test_shipped_demo_log_is_what_the_generator_writes():
    assert DEMO.read_text(encoding="utf-8") == generate()


def test_demo_log_reads_with_satisfaction_at_both_levels():
    from rerankit.sessions import read_jsonl

    log = read_jsonl(DEMO)
    holds = log.holds()
    assert log.num_sessions == 80
    assert holds["satisfaction"] and holds["query_satisfaction"]
    assert holds["clicks"] and holds["labels"]


if __name__ == "__main__":
    DEMO.parent.mkdir(parents=True, exist_ok=True)
    DEMO.write_text(generate(), encoding="utf-8")
    sys.stdout.write(f"wrote {DEMO}\n")
