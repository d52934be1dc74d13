"""One exit code convention for every command, the README's: 0 done; 1 a device or bench
problem, or a test that failed; 2 usage or bad input, found before anything starts; 3 the
rig could not write its own output (a report, a record) or died; 130 stopped by Ctrl-C or
SIGTERM (tests/test_run_lifetime.py). One case per command and code, each with its one
line `rig <command>: ...` on stderr."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
from report_support import record_lines, write_record

from rig.cli import main

ROOT = Path(__file__).resolve().parent.parent

PLAN = '''
import pytest


@pytest.mark.clause("C")
def test_needs_the_bench(bench):
    pass
'''
NO_PORT_BENCH = '[meter]\npan = "600727471234567834"\noptical = "/dev/rig-no-such-port"\n'


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("argv", "code", "line"), [
    (["frobnicate"], 2, "rig: unknown command 'frobnicate'"),
    (["sts", "decode", "123"], 2, "rig sts: "),
    (["emulate", "--fault", "nope"], 2, "rig emulate: "),
    (["display", "read", "--bench", "/nonexistent/bench.toml"], 2, "rig display: "),
    (["bench", "check", "--bench", "/nonexistent/bench.toml"], 2, "rig bench: "),
    (["meter", "readout", "--port", "/dev/rig-no-such-port"], 1,
     "rig meter: optical port /dev/rig-no-such-port: open: No such file or directory"),
    (["report", "/nonexistent/run"], 2, "rig report: "),
])
def test_each_command_one_line_and_its_code(capsys, argv, code, line):
    got, _, err = run(capsys, *argv)
    assert got == code, err
    assert len(err.splitlines()) == 1 and err.startswith(line), err


def test_a_missing_port_is_said_once(capsys):
    _, _, err = run(capsys, "meter", "readout", "--port", "/dev/rig-no-such-port")
    assert err.count("/dev/rig-no-such-port") == 1 and "Errno" not in err
    assert "received nothing" not in err


def test_rig_report_bad_record_2_unwritable_report_3(tmp_path, capsys):
    lines = [copy.deepcopy(x) for x in record_lines("partial_k.jsonl")]
    good = write_record(tmp_path / "good", lines)
    assert run(capsys, "report", str(good), "--no-pdf")[0] == 0
    bad = write_record(tmp_path / "bad", lines[:1], tail="[]\n")
    code, _, err = run(capsys, "report", str(bad), "--no-pdf")
    assert code == 2 and "line 2: not a JSON object" in err
    (good / "report.html").unlink()
    (good / "report.html").mkdir()  # the report cannot be written there
    code, _, err = run(capsys, "report", str(good), "--no-pdf")
    assert code == 3 and err.startswith("rig report: ") and len(err.splitlines()) == 1


def _rig_run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    (tmp_path / "test_plan.py").write_text(PLAN)
    cmd = [sys.executable, "-m", "rig", "run", "--reports", str(tmp_path / "reports"),
           "--progress", "off", *args, str(tmp_path / "test_plan.py"),
           "-p", "no:hypothesispytest"]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_rig_run_bad_input_is_2_before_anything_starts(tmp_path):
    done = _rig_run(tmp_path, "--speed", "0")
    assert done.returncode == 2 and done.stderr.startswith("rig run: --speed")
    assert not (tmp_path / "reports").exists()


def test_rig_run_a_bench_that_does_not_come_up_is_1(tmp_path):
    bench = tmp_path / "bench.toml"
    bench.write_text(NO_PORT_BENCH)
    done = _rig_run(tmp_path, "--bench", str(bench))
    out = done.stdout + done.stderr
    assert done.returncode == 1, out[-3000:]
    assert "bench bring-up failed" in out and "/dev/rig-no-such-port" in out
    assert "INTERNALERROR" not in out and "Traceback" not in out


def test_rig_run_an_answers_file_that_is_not_utf8_is_refused_at_start(tmp_path):
    answers = tmp_path / "answers.txt"
    answers.write_bytes(b"# answers\nstep: ok \xff\n")
    done = _rig_run(tmp_path, "--answers", str(answers))
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr
    assert done.stderr.splitlines() == [
        f"rig run: --answers {answers}: answers file {answers}: not UTF-8 text (byte 0xff "
        "at offset 19)"]
    assert not (tmp_path / "reports").exists()


def test_rig_run_control_characters_in_free_text_are_refused(tmp_path):
    done = _rig_run(tmp_path, "--operator", "Siti\x1b[2J")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "rig run: --operator: control characters are not allowed in it (\\x1b)"]
    assert "\x1b" not in done.stdout + done.stderr
