"""Queries: an ordered mapping from query id to query text."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from rerankit.errors import InputFormatError


@dataclass(frozen=True)
class Queries(Mapping[str, str]):
    """Query ids and texts in a stable order. Ids are unique."""

    ids: tuple[str, ...]
    texts: tuple[str, ...]
    source: str = "queries"
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.ids) != len(self.texts):
            raise ValueError("query ids and texts differ in length")
        index: dict[str, int] = {}
        for i, qid in enumerate(self.ids):
            if qid in index:
                raise InputFormatError(self.source, f"duplicate query id '{qid}'")
            index[qid] = i
        object.__setattr__(self, "_index", index)

    @classmethod
    def from_dict(cls, queries: Mapping[str, str], source: str = "queries") -> Queries:
        """Build from ``{qid: text}``. Ids are strings (integers are read as their decimal
        text; ``1`` and ``"1"`` together are refused) and texts are strings: anything else
        (None, a number) raises :class:`InputFormatError` instead of becoming "None". As for
        :meth:`Run.from_dict`, an id holding a NUL byte (run files cannot hold it) and an id
        or text holding a lone surrogate (not Unicode: no file can hold it) are refused."""
        from rerankit.data.columns import id_texts
        from rerankit.data.run import ID_NUL, checked_strings

        if not isinstance(queries, Mapping):
            raise InputFormatError(source, "expected a dict {query id: text}, got "
                                   f"{type(queries).__name__}")
        ids = id_texts(list(queries), "query id", source)
        for qid, text in zip(ids, queries.values(), strict=True):
            if not isinstance(text, str):
                raise InputFormatError(source, f"text of query '{qid}' is a "
                                       f"{type(text).__name__}, not a string")
        checked_strings(ids, source, lambda i, v: f"query id {v!r}", ID_NUL)
        texts = list(queries.values())
        checked_strings(texts, source, lambda i, v: f"text of query {ids[i]!r}")
        return cls(tuple(ids), tuple(texts), source)

    def __getitem__(self, qid: str) -> str:
        try:
            return self.texts[self._index[qid]]
        except KeyError:
            raise KeyError(f"unknown query id '{qid}' in {self.source}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids)

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, ids: list[str]) -> Queries:
        """The queries with the given ids, in that order (unknown ids raise KeyError)."""
        return Queries(tuple(ids), tuple(self[q] for q in ids), self.source)

    def check_not_empty(self) -> None:
        """Raise naming the first query whose text is empty or only whitespace."""
        for qid, text in zip(self.ids, self.texts, strict=True):
            if not text.strip():
                raise InputFormatError(self.source, f"query '{qid}' has empty text")
