"""Measure names: trec_eval's (``ndcg_cut_10``, ``P.5,10``) and BEIR/ir_measures-style
aliases (``nDCG@10``, ``MRR@10``, ``R@100``), resolved to one canonical form.

Families are listed in trec_eval's output order; rerankit prints measures in that order,
as trec_eval does, whatever order they were requested in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rerankit.errors import UnknownMeasureError

TREC_CUTOFFS = (5, 10, 15, 20, 30, 100, 200, 500, 1000)
BEIR_CUTOFFS = (1, 3, 5, 10, 100, 1000)
RECALL_LEVELS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)

# family -> default parameters (None: the family takes no parameter)
FAMILIES: dict[str, tuple | None] = {
    "runid": None,
    "num_q": None,
    "num_ret": None,
    "num_rel": None,
    "num_rel_ret": None,
    "map": None,
    "gm_map": None,
    "Rprec": None,
    "bpref": None,
    "recip_rank": None,
    "iprec_at_recall": RECALL_LEVELS,
    "P": TREC_CUTOFFS,
    "recall": TREC_CUTOFFS,
    "ndcg": None,
    "ndcg_cut": TREC_CUTOFFS,
    "map_cut": TREC_CUTOFFS,
    "success": (1, 5, 10),
    # Not in trec_eval: reciprocal rank of the first relevant document within the top k
    # (BEIR's and ranx's MRR@k). Zero when none is in the top k.
    "recip_rank_cut": TREC_CUTOFFS,
}
FAMILY_ORDER = {name: i for i, name in enumerate(FAMILIES)}
SUMMARY_ONLY = {"runid", "num_q", "gm_map"}
COUNT_FAMILIES = {"num_ret", "num_rel", "num_rel_ret", "num_q"}

NICKNAMES = {
    "official": ["runid", "num_q", "num_ret", "num_rel", "num_rel_ret", "map", "gm_map",
                 "Rprec", "bpref", "recip_rank", "iprec_at_recall", "P"],
    "all": [f for f in FAMILIES if f != "recip_rank_cut"],
    # trec_eval's all_trec, restricted to the measures rerankit computes (see UNSUPPORTED)
    "all_trec": [f for f in FAMILIES if f != "recip_rank_cut"],
}
# trec_eval measures in its all_trec set that rerankit does not compute (yet).
UNSUPPORTED_TREC = ("relstring", "infAP", "gm_bpref", "Rprec_mult", "utility", "11pt_avg",
                    "binG", "G", "ndcg_rel", "Rndcg", "relative_P", "set_P", "set_recall",
                    "set_relative_P", "set_map", "set_F", "num_nonrel_judged_ret")

_ALIASES = {
    "ndcg": "ndcg_cut", "map": "map_cut", "ap": "map_cut", "recall": "recall", "r": "recall",
    "p": "P", "precision": "P", "mrr": "recip_rank_cut", "rr": "recip_rank_cut",
    "success": "success",
}
_BARE_ALIASES = {"mrr": "recip_rank", "rr": "recip_rank", "ap": "map", "r-prec": "Rprec",
                 "rprec": "Rprec", "ndcg": "ndcg", "map": "map", "bpref": "bpref"}


@dataclass(frozen=True, order=True)
class Measure:
    """One measure value to compute: a family and, for cut-off families, one parameter."""

    family: str
    param: float | None = None

    @property
    def name(self) -> str:
        """The trec_eval output name, e.g. ``ndcg_cut_10``, ``iprec_at_recall_0.10``."""
        if self.param is None:
            return self.family
        if self.family == "iprec_at_recall":
            return f"{self.family}_{self.param:.2f}"
        return f"{self.family}_{int(self.param)}"

    @property
    def sort_key(self) -> tuple[int, float]:
        return FAMILY_ORDER[self.family], -1.0 if self.param is None else float(self.param)


def parse_measures(specs: list[str] | tuple[str, ...] | str) -> list[Measure]:
    """Resolve measure names into :class:`Measure` objects, deduplicated, in output order.

    Accepted forms: trec_eval families with parameters (``P.5,10``, ``ndcg_cut.10``),
    trec_eval output names (``P_5``, ``recall_100``, ``iprec_at_recall_0.10``), families
    alone for their default cut-offs (``P``), the nicknames ``official`` and ``all``, and
    aliases (``nDCG@10``, ``MAP@100``, ``R@1000``, ``Recall@100``, ``P@5``, ``MRR@10``,
    ``MRR``, ``Success@1``; case-insensitive).
    """
    if isinstance(specs, str):
        specs = [specs]
    measures: set[Measure] = set()
    for spec in specs:
        measures.update(_parse_one(spec.strip()))
    return sorted(measures, key=lambda m: m.sort_key)


def _parse_one(spec: str) -> list[Measure]:
    if not spec:
        raise UnknownMeasureError("empty measure name")
    if spec in NICKNAMES:
        return [m for family in NICKNAMES[spec] for m in _family_defaults(family)]
    if spec in FAMILIES:
        return _family_defaults(spec)
    if "@" in spec:
        return [_parse_alias(spec)]
    if "." in spec and spec.split(".", 1)[0] in FAMILIES:
        family, params = spec.split(".", 1)
        return [_make(family, p, spec) for p in params.split(",") if p != ""] or _fail(spec)
    match = re.fullmatch(r"(.+?)_(\d+(?:\.\d+)?)", spec)
    if match and match.group(1) in FAMILIES and FAMILIES[match.group(1)] is not None:
        return [_make(match.group(1), match.group(2), spec)]
    lowered = spec.lower()
    if lowered in _BARE_ALIASES:
        return [Measure(_BARE_ALIASES[lowered])]
    return _fail(spec)


def _parse_alias(spec: str) -> Measure:
    head, _, cut = spec.partition("@")
    family = _ALIASES.get(head.lower())
    if family is None or not cut:
        _fail(spec)
    return _make(family, cut, spec)


def _make(family: str, value: str, spec: str) -> Measure:
    if FAMILIES[family] is None:
        raise UnknownMeasureError(f"measure '{family}' takes no parameter (got '{spec}')")
    try:
        number = float(value)
    except ValueError:
        raise UnknownMeasureError(f"bad parameter '{value}' in measure '{spec}'") from None
    if family == "iprec_at_recall":
        if not 0.0 <= number <= 1.0:
            raise UnknownMeasureError(f"recall level must be in [0, 1], got '{spec}'")
        return Measure(family, number)
    if number < 1 or number != int(number):
        raise UnknownMeasureError(f"cut-off must be a positive integer, got '{spec}'")
    return Measure(family, float(int(number)))


def _family_defaults(family: str) -> list[Measure]:
    params = FAMILIES[family]
    if params is None:
        return [Measure(family)]
    return [Measure(family, float(p)) for p in params]


def _fail(spec: str) -> list[Measure]:
    if spec.split(".", 1)[0] in UNSUPPORTED_TREC:
        raise UnknownMeasureError(f"trec_eval measure '{spec}' is not implemented in rerankit")
    known = ", ".join(FAMILIES)
    raise UnknownMeasureError(
        f"unknown measure '{spec}'. Known families: {known}; nicknames: "
        f"{', '.join(NICKNAMES)}; aliases such as nDCG@10, MAP@100, R@100, P@5, MRR@10"
    )
