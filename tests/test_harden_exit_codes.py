"""The README's exit codes, held by the cases issue 19 named and the earlier tests left out:
a renderer that fails leaves report.pdf unwritten and `rig run` exits 3 (never 0); a bench
whose instrument answers `*IDN?` with 1 MB is a bench that did not come up, exit 1 (not 2,
bad input); `rig results` that cannot write its index or its batch report exits 3.

The broken renderer is a real `weasyprint` module that fails on import, found first on the
PYTHONPATH of the run; the 1 MB identification comes from a TCP server on 127.0.0.1.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from report_support import record_lines, write_record

from rig.cli import main

ROOT = Path(__file__).resolve().parent.parent

PLAN = '''
import pytest


@pytest.mark.clause("C")
def test_one(record):
    record("x", 1, nominal=1)
'''

DMM_PLAN = '''
import pytest


@pytest.mark.clause("C")
def test_uses_the_dmm(dmm):
    pass
'''


def rig_run(tmp_path: Path, plan: str, *args: str, env: dict | None = None
            ) -> subprocess.CompletedProcess:
    (tmp_path / "test_plan.py").write_text(plan)
    cmd = [sys.executable, "-m", "rig", "run", "--reports", str(tmp_path / "reports"),
           "--progress", "off", *args, str(tmp_path / "test_plan.py"),
           "-p", "no:hypothesispytest"]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=env)


def test_a_renderer_that_fails_leaves_no_pdf_and_rig_run_exits_3(tmp_path):
    broken = tmp_path / "broken"
    (broken / "weasyprint").mkdir(parents=True)
    (broken / "weasyprint" / "__init__.py").write_text(
        'raise ImportError("weasyprint broken for this test")\n')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(broken), *filter(None, [os.environ.get("PYTHONPATH")])]))
    done = rig_run(tmp_path, PLAN, env=env)
    out = done.stdout + done.stderr
    assert done.returncode == 3, out[-3000:]
    run = next(p for p in (tmp_path / "reports").iterdir() if p.is_dir())
    assert (run / "report.html").is_file() and not (run / "report.pdf").exists()
    said = [x for x in done.stderr.splitlines() if x.startswith("rig run: report.pdf")]
    assert said == [f"rig run: report.pdf not written (see the line above); `rig report {run}` "
                    "renders it from results.jsonl"], done.stderr
    assert "weasyprint broken for this test" in out
    assert "Traceback" not in out and "INTERNALERROR" not in out


@pytest.fixture
def idn_of_one_megabyte():
    """A TCP instrument on 127.0.0.1 answering every line with 1 MB and a newline."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            try:
                while not stop.is_set() and conn.recv(4096):
                    conn.sendall(b"X" * (1 << 20) + b"\n")
            except OSError:
                pass

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1]
    stop.set()
    server.close()


def test_an_instrument_identifying_with_one_megabyte_is_a_bench_problem_exit_1(
        tmp_path, idn_of_one_megabyte):
    bench = tmp_path / "bench.toml"
    bench.write_text('[meter]\npan = "600727471234567834"\noptical = "/dev/rig-no-such-port"\n'
                     "[instruments.dmm]\n"
                     f'resource = "TCPIP::127.0.0.1::{idn_of_one_megabyte}::SOCKET"\n')
    done = rig_run(tmp_path, DMM_PLAN, "--bench", str(bench))
    out = done.stdout + done.stderr
    assert done.returncode == 1, out[-3000:]
    assert f"bench bring-up failed: dmm TCPIP::127.0.0.1::{idn_of_one_megabyte}::SOCKET" in out
    assert "*IDN?" in out and "Traceback" not in out and "INTERNALERROR" not in out


def test_rig_results_that_cannot_write_its_index_exits_3(tmp_path, capsys):
    reports = tmp_path / "reports"
    (reports / "results.sqlite").mkdir(parents=True)  # the index cannot be made there
    assert main(["results", "--reports", str(reports)]) == 3
    err = capsys.readouterr().err
    assert err.startswith(f"rig results: {reports / 'results.sqlite'}: ")
    assert len(err.splitlines()) == 1


def test_rig_results_that_cannot_write_the_batch_report_exits_3(tmp_path, capsys):
    run = write_record(tmp_path / "r1", record_lines("partial_k.jsonl"))
    out = tmp_path / "out"
    (out / "batch.html").mkdir(parents=True)  # the batch report cannot be written there
    assert main(["results", "--batch-report", str(out), str(run)]) == 3
    err = capsys.readouterr().err
    assert err.startswith("rig results: cannot write the batch report: ")
    assert len(err.splitlines()) == 1
