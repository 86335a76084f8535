"""Converters of public session-log formats (TREC Session track XML, TianGong-ST-style TSV),
on files written here: every field lands where the documented mapping says, the result
equals the same sessions written as JSONL, and malformed input names file, line and field."""

from __future__ import annotations

import json

import pytest

from rerankit.errors import InputFormatError
from rerankit.sessions import SessionLog, read_sessions
from rerankit.sessions.converters import read_session_tsv, read_trec_session_xml

from .cli_helpers import invoke

XML = """<?xml version="1.0" encoding="UTF-8"?>
<sessiontrack2014>
<session num="1" userid="7" starttime="0">
  <topic num="12"><desc>Find facts about bollywood</desc></topic>
  <interaction num="1" starttime="3.0" type="page">
    <query>bollywood growth</query>
    <results>
      <result rank="2"><url>http://b</url><clueweb12id>cw-b</clueweb12id>
        <title>B</title><snippet>b</snippet></result>
      <result rank="1"><url>http://a</url><clueweb12id>cw-a</clueweb12id>
        <title>A</title><snippet>a</snippet></result>
    </results>
    <clicked>
      <click num="1" starttime="10.0" endtime="25.5"><rank>2</rank><docno>cw-b</docno></click>
    </clicked>
  </interaction>
  <interaction num="2" starttime="40.0" type="reformulate">
    <query>bollywood box office</query>
    <results>
      <result rank="1"><url>http://c</url><clueweb09id>cw-c</clueweb09id></result>
    </results>
  </interaction>
  <currentquery starttime="60.0"><query>bollywood industry</query></currentquery>
</session>
<session num="2">
  <topic num="13"/>
  <interaction num="1"><query>q</query><results>
    <result rank="1"><docno>cw-z</docno></result></results></interaction>
</session>
</sessiontrack2014>
"""

EXPECTED_XML = [
    {"session_id": "1", "qrels": {"cw-a": 2, "cw-c": 0}, "interactions": [
        {"query_id": "1:1", "query": "bollywood growth", "results": ["cw-a", "cw-b"],
         "clicks": [0, 1], "dwell": [0, 15.5]},
        {"query_id": "1:2", "query": "bollywood box office", "results": ["cw-c"],
         "clicks": [0]}]},
    {"session_id": "2", "interactions": [
        {"query_id": "2:1", "query": "q", "results": ["cw-z"], "clicks": [0]}]}]


def test_trec_session_xml_maps_every_field(tmp_path):
    path = tmp_path / "sessions.xml"
    path.write_text(XML)
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("12 0 cw-a 2\n12 0 cw-c 0\n99 0 cw-z 1\n")
    log = read_trec_session_xml(path, qrels)
    assert list(log.to_records()) == list(SessionLog.from_records(EXPECTED_XML).to_records())
    assert read_sessions(path, qrels=qrels).session_ids == ["1", "2"]      # auto: .xml


@pytest.mark.parametrize("broken, message", [
    (XML.replace('<url>http://a</url><clueweb12id>cw-a</clueweb12id>', ""), r"line 11: "
     r"session '1', interaction 1: result at rank 1 has no document id"),
    (XML.replace("<rank>2</rank>", "<rank>5</rank>"), r"line 16: session '1', interaction 1: "
     r"click on rank 5, which no result has"),
    (XML.replace('rank="1"><url>http://a', 'rank="x"><url>http://a'),
     r"line 10: session '1', interaction 1: <result> attribute 'rank' must be an integer"),
    (XML.replace("</results>\n    <clicked>", "</results>\n    <clicked"), r"line \d+: "
     r"invalid XML"),
    (XML.replace('<session num="2">', "<session>"), r"line 25: <session> without attribute "
     r"'num'"),
])
def test_trec_session_xml_errors_name_line_and_field(tmp_path, broken, message):
    path = tmp_path / "sessions.xml"
    path.write_text(broken)
    with pytest.raises(InputFormatError, match=rf"sessions\.xml, {message}"):
        read_trec_session_xml(path)
    result = invoke(["session", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output


TSV = (
    "session_id\tinteraction\tquery_id\tquery\tdoc_id\trank\tclick\tdwell\tlabel\tgain"
    "\tquery_satisfaction\tsession_satisfaction\n"
    "s1\t1\tq7\tcheap flights\td2\t2\t1\t30\t2\t0.4\t4\t3.5\n"
    "s1\t1\tq7\tcheap flights\td1\t1\t0\t0\t0\t0\t4\t3.5\n"
    "s2\t1\tq9\tweather\td5\t1\t0\t0\t1\t0.2\t\t\n"
    "s1\t2\tq8\tcheap flights paris\td3\t1\t0\t0\t1\t0.2\t2\t3.5\n"
    "s1\t3\tq8b\tflights paris may\t\t\t\t\t\t\t\t3.5\n"
)

EXPECTED_TSV = [
    {"session_id": "s1", "satisfaction": 3.5, "interactions": [
        {"query_id": "q7", "query": "cheap flights", "results": ["d1", "d2"], "clicks": [0, 1],
         "dwell": [0, 30], "labels": [0, 2], "gains": [0, 0.4], "satisfaction": 4},
        {"query_id": "q8", "query": "cheap flights paris", "results": ["d3"], "clicks": [0],
         "dwell": [0], "labels": [1], "gains": [0.2], "satisfaction": 2},
        {"query_id": "q8b", "query": "flights paris may", "results": []}]},
    {"session_id": "s2", "interactions": [
        {"query_id": "q9", "query": "weather", "results": ["d5"], "clicks": [0], "dwell": [0],
         "labels": [1], "gains": [0.2]}]}]


def test_tsv_with_a_byte_order_mark_and_txt_files_of_either_format(tmp_path):
    """Excel writes TSV with a UTF-8 BOM; a .txt file is TSV unless it starts with '{'."""
    expected = list(read_session_tsv_text(tmp_path, TSV, "plain.tsv").to_records())
    assert list(read_session_tsv_text(tmp_path, "\ufeff" + TSV, "bom.tsv").to_records()) \
        == expected
    tsv_txt = tmp_path / "log.txt"
    tsv_txt.write_text("\ufeff" + TSV, encoding="utf-8")
    jsonl_txt = tmp_path / "log-jsonl.txt"
    jsonl_txt.write_text("".join(json.dumps(r) + "\n" for r in EXPECTED_TSV))
    assert list(read_sessions(tsv_txt).to_records()) == expected
    assert list(read_sessions(jsonl_txt).to_records()) == expected


def read_session_tsv_text(folder, text: str, name: str) -> SessionLog:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return read_session_tsv(path)


@pytest.mark.parametrize("option", [["--metrics", ","], ["--metrics", " "],
                                    ["--seed", "-1"], ["--seed", str(2 ** 32)]])
def test_session_options_refused_before_any_work(tmp_path, option):
    path = tmp_path / "log.tsv"
    path.write_text(TSV)
    result = invoke(["session", str(path), *option])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert option[0] in result.stderr and result.stdout == ""


def test_tsv_equals_the_same_sessions_as_jsonl(tmp_path):
    path = tmp_path / "log.tsv"
    path.write_text(TSV)
    jsonl = tmp_path / "log.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in EXPECTED_TSV))
    assert list(read_session_tsv(path).to_records()) == \
        list(read_sessions(jsonl).to_records())
    out = tmp_path / "converted.jsonl"
    result = invoke(["session", str(path), "--write-jsonl", str(out)])
    assert result.exit_code == 0, result.output
    assert list(read_sessions(out).to_records()) == list(read_sessions(jsonl).to_records())


def test_tsv_without_interaction_column_groups_consecutive_query_ids(tmp_path):
    path = tmp_path / "log.tsv"
    path.write_text("session_id\tquery_id\tdoc_id\trank\tclick\n"
                    "a\tq1\tx\t1\t1\na\tq1\ty\t2\t0\na\tq2\tz\t1\t0\na\tq1\tx\t1\t0\n")
    log = read_session_tsv(path)
    assert log.query_ids == ["q1", "q2", "q1"]        # q1 re-issued later is a new query
    assert log.item_click.tolist() == [1, 0, 0, 0]


@pytest.mark.parametrize("body, message", [
    ("a\t1\tx\t1\t2\n", r"line 2: session 'a', interaction 1: field 'clicks' must be 0 or 1"),
    ("a\t1\tx\t1\tyes\n", r"line 2: session 'a': field 'click' must be a number, got 'yes'"),
    ("a\t1\tx\t1\t1\na\t1\ty\t1\t0\n", r"line 3: session 'a': two results at rank 1"),
    ("a\t1\tx\t1\t1\na\t1\ty\t2\t\n", r"line 3: session 'a': field 'clicks' is empty on this "
     r"row"),
    ("a\t1\tx\t1\n", r"line 2: expected 5 tab-separated fields, found 4"),
    ("\t1\tx\t1\t1\n", r"line 2: field 'session_id' is empty"),
    ("a\tone\tx\t1\t1\n", r"line 2: session 'a': field 'interaction' must be an integer"),
])
def test_tsv_errors_name_line_session_field(tmp_path, body, message):
    path = tmp_path / "log.tsv"
    path.write_text("session_id\tinteraction\tdoc_id\trank\tclick\n" + body)
    with pytest.raises(InputFormatError, match=rf"log\.tsv, {message}"):
        read_session_tsv(path)


def test_tsv_header_problems(tmp_path):
    path = tmp_path / "log.tsv"
    path.write_text("session_id\tdoc\trank\n")
    with pytest.raises(InputFormatError, match=r"line 1: header: missing column 'doc_id'"):
        read_session_tsv(path)
    path.write_text("session_id\tdoc_id\trank\tclicks\n")
    with pytest.raises(InputFormatError, match=r"line 1: header: unknown column 'clicks'"):
        read_session_tsv(path)


def test_topic_qrels_apply_to_trec_xml_only(tmp_path):
    path = tmp_path / "log.tsv"
    path.write_text(TSV)
    result = invoke(["session", str(path), "--qrels", str(path)])
    assert result.exit_code == 2 and "--format trec-xml only" in result.output


def test_trec_xml_result_clicked_twice_is_one_click_unless_counts(tmp_path):
    """The TREC Session logs record a result clicked twice as two <click>s: clicks are 0/1
    by default (a count of 2 would be refused as a click), counts only with click_counts."""
    twice = XML.replace("</click>\n    </clicked>", "</click>\n      <click num=\"2\" "
                        "starttime=\"30.0\" endtime=\"31.0\"><rank>2</rank><docno>cw-b</docno>"
                        "</click>\n    </clicked>")
    path = tmp_path / "sessions.xml"
    path.write_text(twice)
    first = next(iter(read_trec_session_xml(path).to_records()))
    assert first["interactions"][0]["clicks"] == [0, 1]      # ranks 1, 2
    counted = next(iter(read_trec_session_xml(path, click_counts=True).to_records()))
    assert counted["interactions"][0]["clicks"] == [0, 2]


def test_tsv_without_query_id_or_interaction_is_refused(tmp_path):
    path = tmp_path / "log.tsv"
    path.write_text("session_id\tdoc_id\trank\ns1\td1\t1\ns1\td2\t1\n")
    with pytest.raises(InputFormatError, match=r"line 1: header: needs a 'query_id' or an "
                       r"'interaction' column"):
        read_session_tsv(path)


@pytest.mark.parametrize("body, message", [
    ("a\t2\tx\t1\t0\t1\na\t1\ty\t1\t0\t-5\na\t1\tw\t2\t0\t1\n",
     r"line 4: session 'a', interaction 1, field 'labels': must be an integer >= -2, got -5"),
    ("a\t2\tx\t1\t0\t1\na\t1\ty\t1\t0\t1\na\t2\tz\t2\t0\t1\na\t1\tw\t2\t0\t1\n"
     "a\t2\tv\t3\t2\t1\n",
     r"line 7: session 'a', interaction 2: field 'clicks' must be 0 or 1, got 2"),
    ("a\t1\tx\t2\t0\t1\na\t1\ty\t1\t-1\t1\n",
     r"line 4: session 'a', interaction 1: field 'clicks' must be 0 or 1, got -1")])
def test_tsv_value_errors_name_the_offending_row(tmp_path, body, message):
    path = tmp_path / "log.tsv"
    path.write_text("session_id\tinteraction\tdoc_id\trank\tclick\tlabel\n"
                    "b\t1\tq\t1\t0\t0\n" + body)
    with pytest.raises(InputFormatError, match=rf"log\.tsv, {message}"):
        read_session_tsv(path)
