"""Prompt templates are data files (rerankit/rerank/prompts/*.txt) with ``{placeholders}``;
users pass their own file or text to any LLM reranker."""

from __future__ import annotations

from pathlib import Path

FOLDER = Path(__file__).parent / "prompts"


def load_template(name_or_path: str | Path) -> str:
    """A bundled template by name (``pointwise_yes_no``), a template file's text, or the
    template text itself (anything with a ``{placeholder}``)."""
    if isinstance(name_or_path, str) and "{" in name_or_path:
        return name_or_path
    path = Path(name_or_path)
    if path.suffix == ".txt" and path.is_file():
        return path.read_text(encoding="utf-8")
    bundled = FOLDER / f"{name_or_path}.txt"
    if bundled.is_file():
        return bundled.read_text(encoding="utf-8")
    known = ", ".join(sorted(p.stem for p in FOLDER.glob("*.txt")))
    raise ValueError(f"unknown prompt template {name_or_path!r}; bundled: {known}")
