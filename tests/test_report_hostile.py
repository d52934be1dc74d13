"""A record the rig did not write (copied from another bench, edited by hand) is hostile input:
its strings may try to break out of the page's style block, to make the PDF renderer read
local files or fetch URLs, or to smuggle terminal control characters; its lines may have the
wrong shape. The report renders such a record without doing any of it, and a malformed one
is refused in one line naming the line and the field.

The fetch probe is a real HTTP server on 127.0.0.1 that counts the requests it gets.
"""

from __future__ import annotations

import copy
import http.server
import json
import os
import threading
from pathlib import Path

import pytest
from report_support import record_lines, write_record

from rig.cli import main
from rig.record.report_model import RecordError, load
from rig.record.report_pdf import write_report
from rig.record.safe_text import css_string, visible


@pytest.fixture
def probe():
    """An HTTP server on 127.0.0.1: the paths it was asked for."""
    asked: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            body = b"body{color:red}"
            self.send_response(200)
            self.send_header("Content-Type", "text/css")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", asked
    server.shutdown()
    server.server_close()


def hostile(url: str) -> str:
    return (f'x"; }} @import url({url}/import.css); </style><link rel=attachment '
            f'href="file:///etc/passwd"><link rel=stylesheet href="{url}/link.css">'
            f'<img src="{url}/img.png"><style>\\"\r\n@import "{url}/q.css";')


def _hostile_record(url: str) -> list[dict]:
    lines = [copy.deepcopy(x) for x in record_lines("partial_k.jsonl")]
    start = next(x for x in lines if x["kind"] == "run_start")
    ctx = next(x for x in lines if x["kind"] == "report_context")
    start["run_id"] = hostile(url)
    ctx["title"] = hostile(url)
    ctx["operator"] = "Siti\x1b[2J\x1b]0;owned\x07 " + hostile(url)
    ctx["lab"] = {"name": hostile(url)}
    for line in lines:
        if line["kind"] == "measurement":
            line["name"] = hostile(url)
            break
    return lines


def test_a_hostile_record_makes_the_renderer_read_and_fetch_nothing(tmp_path, probe):
    from pypdf import PdfReader

    url, asked = probe
    run = write_record(tmp_path / "copied", _hostile_record(url))
    write_report(run)
    html = (run / "report.html").read_text(encoding="utf-8")
    style = html[html.index("<style>"):html.index("</style>")]
    assert "<" not in style[1:] and "@import" not in style and "url(" not in style
    assert html.count("</style>") == 1 and "<link" not in html
    assert "\x1b" not in html and "\\x1b[2J" in html  # the control characters made visible
    reader = PdfReader(str(run / "report.pdf"))
    assert not reader.attachments
    text = "".join(page.extract_text() for page in reader.pages)
    assert "root:x:0:0" not in text and "/bin/" not in text
    assert b"root:x:0:0" not in (run / "report.pdf").read_bytes()
    assert asked == []


def test_the_fetcher_allows_data_urls_only(probe):
    from rig.record.report_pdf import check_fetchable

    url, asked = probe
    assert check_fetchable("data:image/png;base64,aGk=") == "data:image/png;base64,aGk="
    for refused in (f"{url}/x.css", "file:///etc/passwd", "ftp://127.0.0.1/x",
                    "FILE:/etc/passwd", "javascript:1", "/etc/passwd", "data"):
        with pytest.raises(ValueError, match="only data: URLs"):
            check_fetchable(refused)
    assert asked == []


def test_css_string_escapes_everything_but_letters_and_digits():
    text = 'a</style>"\\\r\n@import url(x) é'
    out = css_string(text)
    assert out.startswith('"') and out.endswith('"')
    inner = out[1:-1]
    assert all(c.isascii() and (c.isalnum() or c in "\\ ") for c in inner), inner
    assert "\\00003C " in inner and "\\00000D " in inner and "\\0000E9 " in inner
    assert css_string("Report 20261201") == '"Report\\000020 20261201"'


def test_visible_shows_control_characters_escaped():
    assert visible("Siti\x1b[2J\x07\r\n\tok\x7f\u202e") == \
        "Siti\\x1b[2J\\x07\\r\\n\\tok\\x7f\\u202e"
    assert visible("Budi Santoso, Rahmawati Ça") == "Budi Santoso, Rahmawati Ça"


def test_rig_report_shows_a_record_run_id_with_control_characters_escaped(tmp_path, capsys):
    lines = [copy.deepcopy(x) for x in record_lines("partial_k.jsonl")]
    lines[0]["run_id"] = "r\x1b]0;owned\x07"
    run = write_record(tmp_path / "r", lines)
    assert main(["report", str(run), "--no-pdf"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "r\\x1b]0;owned\\x07" in out


# --- malformed records: one line naming the line and the field, exit 2 ----------------------


def _start_ctx() -> list[dict]:
    return [copy.deepcopy(x) for x in record_lines("partial_k.jsonl")
            if x["kind"] in ("run_start", "report_context")]


@pytest.mark.parametrize(("bad", "says"), [
    ("[1, 2]", "line 3: not a JSON object"),
    ('{"kind": "test", "test": "t::a", "outcome": "passed", "duration": "abc"}',
     "line 3: test.duration"),
    ('{"kind": "measurement", "time": 1733000000, "test": "t::a", "name": "v", "value": 1}',
     "line 3: measurement.time"),
    ('{"kind": "test", "test": null, "outcome": "passed"}', "line 3: test.test"),
    ('{"kind": "measurement", "test": "t::a", "name": null, "value": 1}',
     "line 3: measurement.name"),
    ('"just a string"', "line 3: not a JSON object"),
])
def test_a_malformed_line_is_refused_naming_line_and_field(tmp_path, capsys, bad, says):
    run = write_record(tmp_path / "r", _start_ctx(), bad + "\n" + json.dumps(
        {"kind": "run_end", "counts": {}}) + "\n")
    with pytest.raises(RecordError, match=says.replace("(", r"\(").replace(")", r"\)")):
        load(run)
    assert main(["report", str(run), "--no-pdf"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rig report: ") and says in err and len(err.splitlines()) == 1
    assert not (run / "report.html").exists()


def test_an_identity_given_as_a_string_is_refused(tmp_path, capsys):
    lines = _start_ctx()
    lines[0]["identity"] = "EMu meter"
    run = write_record(tmp_path / "r", lines)
    assert main(["report", str(run), "--no-pdf"]) == 2
    err = capsys.readouterr().err
    assert "line 1: run_start.identity" in err and len(err.splitlines()) == 1


def test_a_non_utf8_byte_is_refused_naming_line_and_offset(tmp_path, capsys):
    run = write_record(tmp_path / "r", _start_ctx())
    path = run / "results.jsonl"
    data = path.read_bytes()
    cut = data.index(b"emulated bench")
    path.write_bytes(data[:cut] + b"\xff" + data[cut:])
    assert main(["report", str(run), "--no-pdf"]) == 2
    err = capsys.readouterr().err
    assert f"line 1: not UTF-8 (byte 0xff at offset {cut})" in err, err
    assert len(err.splitlines()) == 1


def test_a_torn_last_line_of_a_killed_run_still_renders(tmp_path):
    run = write_record(tmp_path / "r", _start_ctx(), tail='{"kind": "measurement", "te')
    assert load(run).incomplete


def test_a_torn_line_in_the_middle_is_refused(tmp_path):
    lines = _start_ctx()
    run = write_record(tmp_path / "r", lines[:1], tail='{"kind": "meas\n'
                       + json.dumps(lines[1]) + "\n")
    with pytest.raises(RecordError, match="line 2: not JSON"):
        load(run)


# --- paths ------------------------------------------------------------------------------------


def test_latest_pointing_outside_reports_is_refused(tmp_path, capsys):
    reports = tmp_path / "reports"
    elsewhere = write_record(tmp_path / "elsewhere", _start_ctx())
    reports.mkdir()
    (reports / "LATEST").write_text("../elsewhere\n")
    assert main(["report", str(reports), "--no-pdf"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rig report: ") and "LATEST" in err
    assert not (elsewhere / "report.html").exists()


def test_a_report_html_symlink_is_replaced_not_followed(tmp_path):
    run = write_record(tmp_path / "r", _start_ctx())
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    os.symlink(target, run / "report.html")
    write_report(run, pdf=False)
    assert target.read_text() == "keep me"
    assert not (run / "report.html").is_symlink()
    assert "<html" in (run / "report.html").read_text()


def test_a_failed_write_leaves_the_previous_file_and_no_half_one(tmp_path, monkeypatch):
    import rig.record.report_html as report_html

    run = write_record(tmp_path / "r", _start_ctx())
    (run / "report.html").write_text("the previous report")
    # a lone surrogate cannot be encoded: the write fails after the file was opened
    monkeypatch.setattr(report_html, "render", lambda *a, **kw: "<html>\ud800</html>")
    with pytest.raises(UnicodeEncodeError):
        write_report(run, pdf=False)
    assert (run / "report.html").read_text() == "the previous report"
    assert sorted(p.name for p in Path(run).iterdir()) == ["report.html", "results.jsonl"]


def test_a_lone_surrogate_in_a_record_is_shown_escaped(tmp_path):
    lines = _start_ctx()
    lines[1]["operator"] = "Siti \ud800"
    run = write_record(tmp_path / "r", lines)
    write_report(run, pdf=False)
    assert "Siti \\ud800" in (run / "report.html").read_text()


def test_the_report_is_as_readable_as_any_file_written_there(tmp_path):
    run = write_record(tmp_path / "r", _start_ctx())
    write_report(run, pdf=False)
    assert (run / "report.html").stat().st_mode & 0o777 == \
        (run / "results.jsonl").stat().st_mode & 0o777


def test_a_hostile_bench_file_title_through_rig_run(tmp_path, probe):
    """The bench file's [report] title reaches the page's CSS (every page's header): through
    a real `rig run`, it breaks nothing out, and the renderer reads and fetches nothing."""
    import subprocess
    import sys

    from pypdf import PdfReader

    url, asked = probe
    root = Path(__file__).resolve().parent.parent
    bench = tmp_path / "bench.toml"
    bench.write_text((root / "rig" / "benches" / "emulated.toml").read_text()
                     + f"\n[report]\ntitle = {json.dumps(hostile(url))}\n")
    (tmp_path / "test_plan.py").write_text(
        'import pytest\n\n\n@pytest.mark.clause("C")\ndef test_one(record):\n'
        '    record("x", 1, nominal=1)\n')
    done = subprocess.run(
        [sys.executable, "-m", "rig", "run", "--bench", str(bench), "--reports",
         str(tmp_path / "reports"), "--progress", "off", str(tmp_path / "test_plan.py"),
         "-p", "no:hypothesispytest"], cwd=root, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    run = next(p for p in (tmp_path / "reports").iterdir() if p.is_dir())
    html = (run / "report.html").read_text(encoding="utf-8")
    style = html[html.index("<style>"):html.index("</style>")]
    assert "<" not in style[1:] and "@import" not in style and "url(" not in style
    assert html.count("</style>") == 1 and "<link" not in html
    reader = PdfReader(str(run / "report.pdf"))
    assert not reader.attachments
    assert b"root:x:0:0" not in (run / "report.pdf").read_bytes()
    assert asked == []


def _fields(obj, prefix=()):
    """Every field path of a record line, two levels deep."""
    items = obj.items() if isinstance(obj, dict) else \
        ([(0, obj[0])] if isinstance(obj, list) and obj else [])
    for key, value in items:
        yield (*prefix, key)
        if not prefix:
            yield from _fields(value, (key,))


@pytest.mark.parametrize("name", ["partial_k.jsonl", "complete.jsonl"])
def test_any_field_of_the_wrong_type_renders_or_is_refused_in_one_line(tmp_path, name):
    """Each field of the first line of each kind set to a string, a number, null, a list:
    the report renders, or RecordError names the line; never another exception."""
    from rig.record.report_html import render

    base = record_lines(name)
    firsts = {}
    for i, line in enumerate(base):
        firsts.setdefault(line["kind"], i)
    tried = 0
    for i in firsts.values():
        for path in _fields(base[i]):
            for bad in ("abc", 7, None, [1]):
                lines = copy.deepcopy(base)
                target = lines[i]
                for key in path[:-1]:
                    target = target[key]
                target[path[-1]] = bad
                run = write_record(tmp_path / f"r{tried}", lines)
                tried += 1
                try:
                    render(load(run))
                except RecordError as exc:  # one line, naming the line (or what is missing)
                    assert "\n" not in str(exc) and "line" in str(exc), exc
    assert tried > 300
