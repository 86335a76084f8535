"""The architecture's rules, checked on the code itself: one registry that configs and the
CLI learn components from, an import graph without cycles, and data flowing one way
(no module imports from a later stage)."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from rerankit import registry
from rerankit.errors import UnknownComponentError
from rerankit.rerank.base import CandidateList, Reranker

from .cli_helpers import invoke

PACKAGE = Path(__file__).resolve().parents[1] / "rerankit"

#: the stages, in the order data flows; a module may import from its own stage or earlier
STAGES = [
    ("rerankit", "rerankit.errors", "rerankit.identity", "rerankit.progress", "rerankit.lazy",
     "rerankit.settings", "rerankit.costs", "rerankit.registry", "rerankit.compose",
     "rerankit.batching", "rerankit.precision"),
    ("rerankit.data", "rerankit.datasets"),
    ("rerankit.evaluation",),
    ("rerankit.retrieve",),
    ("rerankit.llm",),
    ("rerankit.rerank", "rerankit.quick"),
    ("rerankit.pipeline",),
    ("rerankit.sessions",),
    ("rerankit.experiment",),
    ("rerankit.reporting",),
    ("rerankit.cli", "rerankit.__main__"),
]


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def type_checking_nodes(tree: ast.AST) -> set[int]:
    """The ids of nodes inside ``if TYPE_CHECKING:`` blocks (annotations only)."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            inside |= {id(child) for stmt in node.body for child in ast.walk(stmt)}
    return inside


def import_graph() -> dict[str, set[str]]:
    """Every import between rerankit's modules, at module level or inside functions
    (not those under ``if TYPE_CHECKING:``, which never run)."""
    known = modules()

    def resolve(name: str) -> str:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name

    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = type_checking_nodes(tree)
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            for target in targets:
                if target.startswith("rerankit"):
                    resolved = resolve(target)
                    if resolved and resolved != name:
                        graph[name].add(resolved)
    return graph


def stage_of(module: str) -> int:
    best = None
    for position, prefixes in enumerate(STAGES):
        for prefix in prefixes:
            matches = module == prefix or module.startswith(prefix + ".")
            if matches and (best is None or len(prefix) > best[1]):
                best = (position, len(prefix))
    assert best is not None, f"{module} belongs to no stage: add it to STAGES"
    return best[0]


def test_no_module_imports_from_a_later_stage():
    graph = import_graph()
    backwards = sorted(f"{source} -> {target}" for source, targets in graph.items()
                       for target in targets if stage_of(target) > stage_of(source))
    assert backwards == []


def test_the_import_graph_has_no_cycles():
    graph = import_graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target):], target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_components_are_found_by_contract_not_by_attribute_probing():
    """Orchestration code asks contracts and Protocols, never ``hasattr`` on a component."""
    for folder in ("pipeline", "experiment"):
        for path in (PACKAGE / folder).rglob("*.py"):
            assert "hasattr(" not in path.read_text(encoding="utf-8"), path
    for name in ("compose.py", "cli.py", "registry.py"):
        assert "hasattr(" not in (PACKAGE / name).read_text(encoding="utf-8"), name


@registry.register("reranker", "test-reverse")
class ReverseReranker(Reranker):
    """Reverses the incoming order (a reranker family defined outside rerankit)."""

    pointwise = False

    def __init__(self, bonus: float = 0.0) -> None:
        super().__init__()
        self.bonus = bonus

    @property
    def name(self) -> str:
        return "reverse"

    def score(self, candidates: CandidateList) -> np.ndarray:
        self.calls.add(tokens_in=len(candidates.texts))
        return np.arange(len(candidates.texts), dtype=np.float64) + self.bonus


CONFIG = """name: reverse-test
dataset: {name: scifact, split: test}
retriever: {type: bm25}
depth: 10
queries: {limit: 3, seed: 1}
rerankers:
  - type: test-reverse
    params: {bonus: 1.5}
"""


def test_a_new_reranker_family_is_one_class_and_nothing_else(tmp_path, monkeypatch):
    """Registered in a test module: YAML configs, config checks, the CLI's run command and
    its component list know it with no other change."""
    from rerankit.experiment.config import load_config

    monkeypatch.setenv("RERANKIT_CACHE", str(tmp_path / "cache"))
    config = tmp_path / "reverse.yaml"
    config.write_text(CONFIG)
    assert load_config(config).rerankers[0].type == "test-reverse"
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(CONFIG.replace("bonus: 1.5", "bonus: yes"))
    with pytest.raises(Exception, match="parameter 'bonus' of ReverseReranker"):
        load_config(wrong)

    listed = invoke(["components"])
    assert listed.exit_code == 0 and "test-reverse" in listed.output
    result = invoke(["run", str(config), "--output", str(tmp_path / "out"),
                     "--quiet"])
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "out" / "run.trec").read_text().splitlines()
    first_query = [line.split() for line in lines if line.split()[0] == lines[0].split()[0]]
    assert [float(row[4]) for row in first_query] == sorted(
        [float(row[4]) for row in first_query], reverse=True)
    assert float(first_query[0][4]) == 9 + 1.5            # the BM25 10th, now first


def test_the_registry_lists_every_built_in_family():
    assert {"bm25", "dense", "fusion"} <= set(registry.names("retriever"))
    assert {"cross-encoder", "bi-encoder", "monot5", "duot5", "yes-no", "listwise",
            "first-token", "pairwise"} <= set(registry.names("reranker"))
    assert {"llamacpp", "transformers", "openai"} <= set(registry.names("llm"))
    with pytest.raises(UnknownComponentError, match="available: "):
        registry.lookup("reranker", "colbert")


def test_rank_with_an_unknown_reranker_name_lists_the_known_ones():
    """A typo of a reranker kind is the project's error, not a bare KeyError."""
    import rerankit

    with pytest.raises(UnknownComponentError) as caught:
        rerankit.rank("heat transfer", ["boundary layer heat transfer"], "crossencoder")
    assert str(caught.value).startswith("unknown reranker type 'crossencoder'; available: ")
    assert "cross-encoder" in str(caught.value) and "bi-encoder" in str(caught.value)
    assert not isinstance(caught.value, KeyError)


def test_constructor_arguments_are_recorded_without_rewriting_init():
    import inspect

    assert "bonus" in inspect.signature(ReverseReranker).parameters
    assert ReverseReranker.__init__.__code__.co_varnames[:2] == ("self", "bonus")
    identity = ReverseReranker(bonus=2.0).identity()
    assert identity["arguments"] == {"bonus": 2.0}


def test_the_readme_component_table_is_the_registry():
    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- components:table -->\n")[1].split("\n<!-- /components:table")[0]
    assert block == registry.markdown_table(), \
        "regenerate it: rerankit components --markdown"


def test_a_registered_llm_backend_outside_the_contract_is_a_named_config_error(tmp_path):
    """A plugin backend that does not subclass LLMBackend is refused when a config names it,
    with the reason, instead of failing inside the config check."""
    from rerankit.errors import InputFormatError
    from rerankit.experiment.config import load_config

    @registry.register("llm", "test-bare-backend")
    class BareBackend:
        """A backend without the LLMBackend contract."""

    config = tmp_path / "bare.yaml"
    config.write_text(CONFIG.replace(
        "  - type: test-reverse\n    params: {bonus: 1.5}\n",
        "  - type: yes-no\n    llm: {backend: test-bare-backend, model: m}\n"))
    refused = r"does not subclass rerankit\.llm\.base\.LLMBackend"
    with pytest.raises(InputFormatError, match=refused):
        load_config(config)
