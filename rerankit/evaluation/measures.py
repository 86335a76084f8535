"""Measure names: trec_eval 10.0's (``ndcg_cut.10,20``, ``P_5``, ``utility.2,-1,0,0``,
``ndcg.1=3,2=9``) and BEIR/ir_measures-style aliases (``nDCG@10``, ``MRR@10``, ``R@100``),
resolved to :class:`Measure` objects named and ordered exactly as trec_eval prints them.

trec_eval's rules, reproduced (trec_eval.c, meas_init.c):
* measures come out in the order of trec_eval's measure table (:data:`FAMILIES`), whatever
  order they were requested in; cut-offs of one family in increasing order;
* ``-m family.params`` sets a family's parameters; when one family is given parameters
  twice, the first list is used and later ones are ignored (``-m P.5 -m P.10`` gives P_5
  only, as trec_eval); a family named without parameters (or through a nickname) gets its
  defaults unless parameters were given elsewhere;
* integer cut-offs are read like C's ``atol`` (``ndcg_cut.23.4`` is cut-off 23, printed
  ``ndcg_cut_23``), sorted, and must be positive and distinct; they are kept as exact
  integers (a C long), so a cut-off past 2**53 keeps its own name and stays distinct from
  its neighbours (``P.9007199254740993`` is P_9007199254740993, not its nearest double's
  name), while the values divide by it as a double, as trec_eval's C does; fractional cut-offs
  (``iprec_at_recall``, ``Rprec_mult``) are sorted, distinct, printed with ``%3.2f``;
  single-value measures with parameters (``utility``, ``11pt_avg``, ``set_F``,
  ``relstring``, and the gain measures ``ndcg``, ``G``, ``rbp``...) print as
  ``family_<parameters as given>``.

Where trec_eval silently accepts malformed parameters (``P.5x``, ``ndcg.a=3``, a gain
level given twice), rerankit raises :class:`UnknownMeasureError` naming the measure
instead of guessing. trec_eval shares one parameter list between ``dcg``, ``ideal_dcg``
and ``ndcg`` and aborts when two of them are requested and one has parameters; rerankit
gives each its own.

rerankit's additions: aliases (``nDCG@10``...), trec_eval's output names as input
(``P_5``, ``iprec_at_recall_0.10``), which add single cut-offs to their family, and the
family ``recip_rank_cut`` (BEIR's MRR@k), printed after trec_eval's measures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rerankit.errors import InputFormatError, UnknownMeasureError

TREC_CUTOFFS = (5, 10, 15, 20, 30, 100, 200, 500, 1000)
BEIR_CUTOFFS = (1, 3, 5, 10, 100, 1000)
RECALL_LEVELS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
RPREC_MULTIPLES = (0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0)


@dataclass(frozen=True)
class Family:
    """How trec_eval parameterises, prints and summarises one measure family.

    ``params``: "none"; "cut_long" (one value per integer cut-off); "cut_double" (one value
    per fractional cut-off); "doubles" (one value, a list of numbers); "pairs" (one value,
    ``name=number`` pairs such as gains per relevance level).
    ``kind``: printed as %ld ("count"), %6.4f ("float") or %s ("text").
    ``summary``: the "all" line: "sum", "mean", "gmean" (geometric mean), "none" (no line),
    "runid", "num_q". ``per_query``: whether ``-q`` prints a line per query.
    """

    params: str = "none"
    default: tuple = ()
    kind: str = "float"
    summary: str = "mean"
    per_query: bool = True


_COUNT = Family(kind="count", summary="sum")
_GAINS = Family(params="pairs")

# trec_eval 10.0's measure table (measures.c), in its order, then rerankit's own families.
FAMILIES: dict[str, Family] = {
    "runid": Family(kind="text", summary="runid", per_query=False),
    "num_q": Family(kind="count", summary="num_q", per_query=False),
    "num_ret": _COUNT,
    "num_rel": _COUNT,
    "num_rel_ret": _COUNT,
    "map": Family(),
    "gm_map": Family(summary="gmean", per_query=False),
    "Rprec": Family(),
    "bpref": Family(),
    "recip_rank": Family(),
    "iprec_at_recall": Family(params="cut_double", default=RECALL_LEVELS),
    "P": Family(params="cut_long", default=TREC_CUTOFFS),
    "relstring": Family(params="doubles", default=(10.0,), kind="text", summary="none"),
    "recall": Family(params="cut_long", default=TREC_CUTOFFS),
    "infAP": Family(),
    "gm_bpref": Family(summary="gmean", per_query=False),
    "Rprec_mult": Family(params="cut_double", default=RPREC_MULTIPLES),
    "utility": Family(params="doubles", default=(1.0, -1.0, 0.0, 0.0)),
    "11pt_avg": Family(params="doubles", default=RECALL_LEVELS),
    "binG": Family(),
    "G": _GAINS,
    "dcg": _GAINS,
    "ideal_dcg": _GAINS,
    "ndcg": _GAINS,
    "ndcg_rel": _GAINS,
    "Rndcg": _GAINS,
    "ndcg_cut": Family(params="cut_long", default=TREC_CUTOFFS),
    "map_cut": Family(params="cut_long", default=TREC_CUTOFFS),
    "relative_P": Family(params="cut_long", default=TREC_CUTOFFS),
    "success": Family(params="cut_long", default=(1, 5, 10)),
    "set_P": Family(),
    "set_relative_P": Family(),
    "set_recall": Family(),
    "set_map": Family(),
    "set_F": Family(params="doubles", default=(1.0,)),
    "num_nonrel_judged_ret": _COUNT,
    # preference and multi-judge measures: computed by rerankit.evaluation.prefs
    "prefs_num_prefs_poss": _COUNT,
    "prefs_num_prefs_ful": _COUNT,
    "prefs_num_prefs_ful_ret": _COUNT,
    "prefs_simp": Family(),
    "prefs_pair": Family(),
    "prefs_avgjg": Family(),
    "prefs_avgjg_Rnonrel": Family(),
    "prefs_simp_ret": Family(),
    "prefs_pair_ret": Family(),
    "prefs_avgjg_ret": Family(),
    "prefs_avgjg_Rnonrel_ret": Family(),
    "prefs_simp_imp": Family(),
    "prefs_pair_imp": Family(),
    "prefs_avgjg_imp": Family(),
    "map_avgjg": Family(),
    "P_avgjg": Family(params="cut_long", default=TREC_CUTOFFS),
    "Rprec_mult_avgjg": Family(params="cut_double", default=RPREC_MULTIPLES),
    "yaap": Family(),
    "rbp": _GAINS,
    "rbp_resid": _GAINS,
    "unj": Family(params="cut_long", default=(5, 10, 20)),
    # Not in trec_eval: reciprocal rank of the first relevant document within the top k
    # (BEIR's and ranx's MRR@k). Zero when none is in the top k.
    "recip_rank_cut": Family(params="cut_long", default=TREC_CUTOFFS),
}
FAMILY_ORDER = {name: i for i, name in enumerate(FAMILIES)}
PREFS_FAMILIES = frozenset(f for f in FAMILIES if f.startswith("prefs_") or
                           f.endswith("_avgjg"))

_OFFICIAL = ["runid", "num_q", "num_ret", "num_rel", "num_rel_ret", "map", "gm_map",
             "Rprec", "bpref", "recip_rank", "iprec_at_recall", "P"]
# trec_eval 10.0's nicknames (measures.c), plus rerankit's "all": every qrels measure of
# trec_eval's table (all_trec, dcg, ideal_dcg and yaap).
NICKNAMES: dict[str, list[str]] = {
    "official": _OFFICIAL,
    "set": ["runid", "num_q", "num_ret", "num_rel", "num_rel_ret", "utility", "set_P",
            "set_recall", "set_relative_P", "set_map", "set_F"],
    "all_trec": [
        *_OFFICIAL, "relstring", "recall", "unj", "rbp", "rbp_resid", "infAP", "gm_bpref",
        "utility", "11pt_avg", "ndcg", "relative_P", "Rprec_mult", "success", "map_cut", "ndcg_cut",
        "ndcg_rel", "Rndcg", "binG", "G", "set_P", "set_recall", "set_relative_P", "set_map",
        "set_F", "num_nonrel_judged_ret"],
    "all_prefs": ["runid", "num_q", "prefs_num_prefs_poss", "prefs_num_prefs_ful",
                  "prefs_num_prefs_ful_ret", "prefs_simp", "prefs_pair", "prefs_avgjg",
                  "prefs_avgjg_Rnonrel", "prefs_simp_ret", "prefs_pair_ret", "prefs_avgjg_ret",
                  "prefs_avgjg_Rnonrel_ret", "prefs_simp_imp", "prefs_pair_imp",
                  "prefs_avgjg_imp"],
    "prefs": ["runid", "num_q", "prefs_num_prefs_poss", "prefs_num_prefs_ful",
              "prefs_num_prefs_ful_ret", "prefs_simp", "prefs_pair", "prefs_avgjg"],
    "qrels_jg": ["runid", "num_q", "map_avgjg", "P_avgjg", "Rprec_mult_avgjg"],
}
NICKNAMES["all"] = [f for f in FAMILIES if f not in PREFS_FAMILIES and f != "recip_rank_cut"]

# Kept for callers that predate value_kind/summary_rule.
COUNT_FAMILIES = frozenset(f for f, spec in FAMILIES.items() if spec.kind == "count")
SUMMARY_ONLY = frozenset(f for f, spec in FAMILIES.items() if not spec.per_query)
UNSUPPORTED_TREC: tuple[str, ...] = ()  # every all_trec measure is computed

_ALIASES = {
    "ndcg": "ndcg_cut", "map": "map_cut", "ap": "map_cut", "recall": "recall", "r": "recall",
    "p": "P", "precision": "P", "mrr": "recip_rank_cut", "rr": "recip_rank_cut",
    "success": "success",
}
_BARE_ALIASES = {"mrr": "recip_rank", "rr": "recip_rank", "ap": "map", "r-prec": "Rprec",
                 "rprec": "Rprec", "ndcg": "ndcg", "map": "map", "bpref": "bpref"}
#: C's LONG_MAX on 64-bit Linux, where trec_eval's atol saturates
LONG_MAX = 2 ** 63 - 1
_LEADING_INT = re.compile(r"[+-]?\d+(?:\.\d*)?")
_LEVEL = re.compile(r"[+-]?\d+")


def value_kind(family: str) -> str:
    """How trec_eval prints the family's values: "count" (%ld), "float" (%6.4f), "text"."""
    return _family(family).kind


#: Summary rules whose measures trec_eval prints only in the summary ("all") lines.
SUMMARY_ONLY_RULES = ("gmean", "runid", "num_q")


def summary_rule(family: str) -> str:
    """How trec_eval summarises the family in its "all" line: "sum", "mean", "gmean"
    (geometric mean of max(value, 0.00001)), "none" (no line), "runid", "num_q"."""
    return _family(family).summary


def printed_per_query(family: str) -> bool:
    """Whether ``-q`` prints the family per query (not runid, num_q, gm_map, gm_bpref)."""
    return _family(family).per_query


def incomparable(family: str) -> str | None:
    """Why a paired test (``rerankit compare``, ``rerankit report``) cannot compare the
    family's per-query values, or None when it can: the one rule both commands apply.

    A paired test compares per-query numbers by their mean difference, so it needs a number
    per query whose mean is the measure: not ``runid`` and ``relstring`` (text), not
    ``num_q`` (a count of queries, summary only), not ``gm_map`` / ``gm_bpref`` (per-query
    values in the log domain whose summary is a geometric mean: a mean difference of
    their values is neither measure), and not the preference measures (they need
    preference judgements, ``rerankit eval -R``).
    """
    spec = _family(family)
    if family in PREFS_FAMILIES:
        return ("it needs preference judgements (rerankit eval -R), not the qrels a "
                "comparison reads")
    if spec.summary == "runid":
        return "it is the run's name, not a number"
    if spec.kind == "text":
        return "its per-query values are text (the grades of the top documents), not numbers"
    if spec.summary == "num_q":
        return "it counts the queries of the whole run and has no per-query value"
    if spec.summary == "gmean":
        counterpart = family.removeprefix("gm_")
        return (f"its summary is a geometric mean, which a paired test of mean differences "
                f"does not compare (compare {counterpart}, its arithmetic mean)")
    return None


def no_run_value(family: str) -> str | None:
    """Why the family has no value for a whole run that a result folder's metrics.json
    could hold, or None when it has one: ``runid`` is the run's name, ``relstring`` text
    trec_eval prints per query only (``num_q`` is written, as the evaluation record)."""
    spec = _family(family)
    if spec.summary == "runid":
        return "it is the run's name (the config's 'name', the tag in run.trec), not a value"
    if spec.summary == "none":
        return ("trec_eval gives it per query only (text: the grades of the top documents); "
                "see it with 'rerankit eval -q -m relstring QRELS run.trec'")
    return None


def comparable_measures(specs: list[str] | tuple[str, ...] | str, option: str = "--measure"
                        ) -> tuple[list[Measure], list[Measure]]:
    """The measures of ``specs`` a paired test can compare, and those it skips.

    A measure named explicitly (``relstring``, ``gm_map``, ``P_10``) that cannot be
    compared is refused, naming it and why (:func:`incomparable`); one that only comes from
    a nickname (``all``, ``all_trec``, ``official``) is skipped and returned second, for the
    caller to say so. Nothing comparable at all is refused too.
    """
    specs = [specs] if isinstance(specs, str) else list(specs)
    wanted = parse_measures(specs)
    for spec in specs:
        if spec.strip().partition(".")[0] in NICKNAMES:
            continue
        for m in parse_measures([spec]):
            reason = incomparable(m.family)
            if reason is not None:
                raise InputFormatError(option, f"cannot compare {m.name}: {reason}")
    kept = [m for m in wanted if incomparable(m.family) is None]
    skipped = [m for m in wanted if incomparable(m.family) is not None]
    if not kept:
        raise InputFormatError(option, f"{', '.join(specs)} names no measure that a paired "
                               "test can compare")
    return kept, skipped


def skipped_note(skipped: list[Measure]) -> str:
    """One line saying which measures of a nickname were not compared, grouped by reason."""
    reasons: dict[str, list[str]] = {}
    for m in skipped:
        reason = (incomparable(m.family) or "").split(" (")[0]
        reasons.setdefault(reason, []).append(m.name)
    return "not compared: " + "; ".join(f"{', '.join(names)} ({reason})"
                                        for reason, names in reasons.items())


def _family(family: str) -> Family:
    try:
        return FAMILIES[family]
    except KeyError:
        raise UnknownMeasureError(f"unknown measure family '{family}'") from None


@dataclass(frozen=True)
class Measure:
    """One printed value of a family: a cut-off for the "cut" families (an exact int for
    the integer cut-offs, which floats past 2**53 would merge and misname; a float for the
    fractional ones), the parameter tuple for the single-value parameterised families
    (numbers for "doubles", ``(name, number)`` pairs for "pairs"), else None. ``label``
    is the parameter text as given on the command line, which trec_eval appends to the
    name of single-value families (``utility_2,-1,0,0``)."""

    family: str
    param: int | float | tuple | None = None
    label: str | None = None

    @property
    def name(self) -> str:
        """The trec_eval output name, e.g. ``ndcg_cut_10``, ``iprec_at_recall_0.10``."""
        kind = FAMILIES[self.family].params
        if kind == "cut_long":  # a cut-off beyond C's long saturated to LONG_MAX, as atol
            return f"{self.family}_{min(self.param, LONG_MAX)}"
        if kind == "cut_double":
            return f"{self.family}_{self.param:3.2f}"
        return self.family if self.label is None else f"{self.family}_{self.label}"

    @property
    def key(self) -> str:
        """Where results store this measure's values: its name, unless the name rounds a
        parameter (``iprec_at_recall.0.501`` prints as ``iprec_at_recall_0.50``, like
        ``.0.5``): then the exact parameter, so that both of trec_eval's same-named lines
        keep their own values."""
        if FAMILIES[self.family].params == "cut_double" and \
                float(f"{self.param:3.2f}") != self.param:
            return f"{self.family}_{self.param!r}"
        return self.name

    @property
    def sort_key(self) -> tuple[int, int | float]:
        cut = FAMILIES[self.family].params.startswith("cut") and self.param is not None
        return FAMILY_ORDER[self.family], self.param if cut else -1.0


def parse_measures(specs: list[str] | tuple[str, ...] | str) -> list[Measure]:
    """Resolve measure names into :class:`Measure` objects in trec_eval's output order
    (see the module docstring for the rules).

    Accepted forms: trec_eval families with or without parameters (``P``, ``P.5,10``,
    ``ndcg_cut.10,20,23.4``, ``utility.2,-1,0,0``, ``ndcg.1=3,2=9``, ``rbp.p=0.8``),
    nicknames (``official``, ``set``, ``all_trec``, ``all_prefs``, ``prefs``,
    ``qrels_jg``, ``all``), trec_eval output names (``P_5``, ``iprec_at_recall_0.10``) and
    aliases (``nDCG@10``, ``MAP@100``, ``R@1000``, ``Recall@100``, ``P@5``, ``MRR@10``,
    ``MRR``, ``Success@1``; case-insensitive).
    """
    if isinstance(specs, str):
        specs = [specs]
    marked: set[str] = set()
    given: dict[str, list[Measure]] = {}
    extra: list[Measure] = []
    for raw_spec in specs:
        spec = raw_spec.strip()
        if not spec:
            raise UnknownMeasureError("empty measure name")
        head, dot, params = spec.partition(".")
        if head in NICKNAMES:
            if dot:
                raise UnknownMeasureError(f"nickname '{head}' takes no parameters (got "
                                          f"'{spec}')")
            marked.update(NICKNAMES[head])
        elif head in FAMILIES:
            marked.add(head)
            if dot:
                parsed = _with_params(head, params, spec)
                given.setdefault(head, parsed)  # trec_eval: the first list given wins
        elif "@" in spec:
            extra.append(_parse_alias(spec))
        else:
            extra.extend(_parse_name(spec))
    chosen = [m for f in marked for m in given.get(f, _defaults(f))] + extra
    unique = {m.key: m for m in chosen}
    return sorted(unique.values(), key=lambda m: m.sort_key)


def _defaults(family: str) -> list[Measure]:
    spec = FAMILIES[family]
    if spec.params == "none":
        return [Measure(family)]
    if spec.params == "cut_long":
        return [Measure(family, int(p)) for p in spec.default]
    if spec.params == "cut_double":
        return [Measure(family, float(p)) for p in spec.default]
    return [Measure(family, tuple(spec.default))]


def _with_params(family: str, params: str, spec: str) -> list[Measure]:
    kind = FAMILIES[family].params
    if kind == "none":
        raise UnknownMeasureError(f"measure '{family}' takes no parameters (got '{spec}')")
    if params == "":
        raise UnknownMeasureError(f"measure '{spec}': empty parameter list after '.'")
    tokens = params.split(",")
    if kind == "pairs":
        return [Measure(family, _pairs(family, tokens, spec), params)]
    if kind == "cut_long":
        values = [_atol(t, spec) for t in tokens]
    else:
        values = [_number(t, spec) for t in tokens]
    if kind == "doubles":
        if family == "utility" and len(values) != 4:
            raise UnknownMeasureError(f"measure '{spec}': utility takes 4 coefficients "
                                      f"(relevant retrieved, nonrelevant retrieved, "
                                      f"relevant missed, nonrelevant missed)")
        return [Measure(family, tuple(values), params)]
    values.sort()
    if len(set(values)) != len(values):
        raise UnknownMeasureError(f"measure '{spec}': duplicate cut-offs")
    if kind == "cut_long" and values[0] <= 0:
        raise UnknownMeasureError(f"measure '{spec}': cut-offs must be positive")
    return [Measure(family, v) for v in values]


def _atol(token: str, spec: str) -> int:
    """C's atol on a decimal number: the integer part (``23.4`` -> 23), saturated to a
    64-bit long as glibc's (trec_eval names ``P.99999999999999999999`` P_9223372036854775807)."""
    token = token.strip()
    if not _LEADING_INT.fullmatch(token):
        raise UnknownMeasureError(f"measure '{spec}': cut-off '{token}' is not a number")
    return max(min(int(token.split(".")[0]), LONG_MAX), -LONG_MAX - 1)


def _number(token: str, spec: str) -> float:
    try:
        value = float(token)
    except ValueError:
        value = float("nan")
    if token.strip() == "" or value != value or value in (float("inf"), float("-inf")):
        raise UnknownMeasureError(f"measure '{spec}': parameter '{token}' is not a number")
    return value


def _pairs(family: str, tokens: list[str], spec: str) -> tuple[tuple[str, float], ...]:
    """``level=gain`` pairs (and ``p=persistence`` for rbp, rbp_resid)."""
    pairs: list[tuple[str, float]] = []
    levels: set[int] = set()
    for token in tokens:
        name, eq, value = token.partition("=")
        if not eq or "=" in value:
            raise UnknownMeasureError(f"measure '{spec}': parameters must be "
                                      f"level=gain pairs, got '{token}'")
        number = _number(value, spec)
        if name == "p" and family in ("rbp", "rbp_resid"):
            pairs.append((name, number))
            continue
        if not _LEVEL.fullmatch(name):
            raise UnknownMeasureError(f"measure '{spec}': '{name}' is not a relevance level "
                                      "(an integer)")
        level = int(name)
        if level < 0:
            raise UnknownMeasureError(f"measure '{spec}': gains for negative relevance "
                                      "levels (unjudged documents) are not supported")
        if level in levels:
            raise UnknownMeasureError(f"measure '{spec}': relevance level {level} is given "
                                      "twice")
        levels.add(level)
        pairs.append((name, number))
    return tuple(pairs)


def _parse_name(spec: str) -> list[Measure]:
    """trec_eval output names (``P_5``, ``iprec_at_recall_0.10``) and bare aliases."""
    match = re.fullmatch(r"(.+?)_(\d+(?:\.\d+)?)", spec)
    if match and match.group(1) in FAMILIES:
        family, value = match.groups()
        kind = FAMILIES[family].params
        if kind == "cut_long" and value.isdigit() and int(value) > 0:
            return [Measure(family, min(int(value), LONG_MAX))]
        if kind == "cut_double":
            return [Measure(family, float(value))]
    lowered = spec.lower()
    if lowered in _BARE_ALIASES:
        return [Measure(_BARE_ALIASES[lowered])]
    return _fail(spec)


def _parse_alias(spec: str) -> Measure:
    head, _, cut = spec.partition("@")
    family = _ALIASES.get(head.lower())
    if family is None:
        _fail(spec)
    if not cut.isdigit() or int(cut) < 1:
        raise UnknownMeasureError(f"bad parameter '{cut}' in measure '{spec}': the cut-off "
                                  "after @ must be a positive integer")
    return Measure(family, min(int(cut), LONG_MAX))


def _fail(spec: str) -> list[Measure]:
    raise UnknownMeasureError(
        f"unknown measure '{spec}': expected a trec_eval measure (e.g. P.5,10, ndcg_cut_10, "
        f"utility.1,-1,0,0), a nickname ({', '.join(NICKNAMES)}) or an alias such as "
        "nDCG@10, MAP@100, R@100, P@5, MRR@10"
    )


#: The headline measures of rerankit's tables, configs and comparisons (trec_eval names)
#: with their table labels, written once.
HEADLINE = {"ndcg_cut_10": "nDCG@10", "recall_100": "R@100", "map": "MAP",
            "recip_rank_cut_10": "MRR@10"}
