"""The one Markdown table renderer, read back by markdown-it-py (an independent CommonMark
parser with GFM tables, installed with rich) and by rerankit's own reader."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from rerankit.reporting.markdown import markdown_table, read_markdown_table

# cells as the tables hold them: one line, no surrounding blanks, no backslash (whose
# Markdown escaping is not needed by any table rerankit writes)
cell = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp", "Zs"),
                             blacklist_characters="\\`"), max_size=8)


def parsed_by_markdown_it(text: str) -> list[list[str]]:
    rows, row = [], None
    for token in MarkdownIt("commonmark").enable("table").parse(text):
        if token.type == "tr_open":
            row = []
        elif token.type == "inline" and row is not None:
            row.append(token.content)
        elif token.type == "tr_close":
            rows.append(row)
            row = None
    return rows


@given(st.integers(1, 5).flatmap(lambda n: st.tuples(
    st.lists(cell, min_size=n, max_size=n).filter(lambda h: any(h)),
    st.lists(st.lists(cell, min_size=n, max_size=n), max_size=4))))
def test_tables_read_back_cell_for_cell(table):
    header, rows = table
    text = markdown_table(header, rows)
    assert parsed_by_markdown_it(text) == [header, *rows]
    assert read_markdown_table(text) == [header, *rows]


def test_layout_is_the_leaderboards_one():
    assert markdown_table(["", "nDCG@10"], [["bm25", "0.6863"], ["a|b", ""]]) == (
        "| | nDCG@10 |\n|---|---|\n| bm25 | 0.6863 |\n| a\\|b | |")
