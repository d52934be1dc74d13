"""End to end: `rig run -k ...` on the emulated bench writes the four files, the PDF holds on
every page the report id and "page x of y", is stamped PARTIAL and EMULATED BENCH; a run
killed with SIGKILL halfway gets its report from `rig report RUN_DIR`, stamped INCOMPLETE.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from report_support import pdf_images, pdf_pages

from rig.record.report_model import load

ROOT = Path(__file__).resolve().parent.parent
QUICK = "shown_values or depletion"


def rig(*args: str, **popen: object) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "rig", *args]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **popen)


def only_run(reports: Path) -> Path:
    runs = [p for p in reports.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    reports = tmp_path_factory.mktemp("e2e") / "reports"
    proc = rig("run", "--reports", str(reports), "--operator", "Budi Santoso", "-k", QUICK,
               "-p", "no:hypothesispytest")
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out, err, only_run(reports)


def test_a_plain_run_writes_the_four_files(quick_run):
    code, out, err, run = quick_run
    assert code in (0, 1), out[-3000:] + err[-2000:]  # the plans' verdicts are not ours here
    for name in ("report.html", "report.pdf", "results.jsonl", "junit.xml"):
        assert (run / name).is_file(), name
        assert str(run / name) in out


def test_the_pdf_of_a_k_run(quick_run):
    code, out, _, run = quick_run
    context = next(json.loads(x) for x in (run / "results.jsonl").read_text().splitlines()
                   if '"report_context"' in x)
    left_out = len(context["deselected"])
    assert f"{left_out} deselected" in out and left_out > 20
    verdict = load(run).verdict()
    assert verdict == ("NOT CONCLUDED" if code == 0 else "FAIL")  # -k: never a PASS
    pages = pdf_pages(run / "report.pdf")
    for i, text in enumerate(pages, 1):
        assert run.name in text and f"page {i} of {len(pages)}" in text, i
        assert "EMULATED BENCH: not a test of a physical meter" in text and "PARTIAL" in text
    first = pages[0]
    assert f"Overall verdict: {verdict}" in first
    assert "Budi Santoso (rig run --operator)" in first
    assert f"PARTIAL: {left_out} test(s) of the plan left out" in first
    assert f"-k {QUICK}" in first and "Credit added exactly" in first  # names in words
    assert f"overall verdict: {verdict}" in out
    text = " ".join(pages)
    for needed in ("SHA-256 of the plan files run", "4 Conditions", "simple acceptance",
                   "relay edge at credit exhaustion", "credit and power during depletion"):
        assert needed in text, needed
    squeezed = text.replace(" ", "")
    names = [json.loads(x)["name"] for x in (run / "results.jsonl").read_text().splitlines()
             if '"kind": "measurement"' in x]
    assert len(names) > 5
    from rig.record.report_model import how_obtained

    for name in names:  # every measurement of every test, however its cell wraps
        shown, how = how_obtained(name, {})
        assert shown.replace(" ", "") in squeezed, name
        assert how.replace(" ", "") in squeezed, name
    assert len(pdf_images(run / "report.pdf")) == 2
    assert context["operator"] == "Budi Santoso"
    assert sum(x.count('"kind": "plot"') for x in
               (run / "results.jsonl").read_text().splitlines()) == 2


def _child_of(pid: int) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.05)
    raise AssertionError("rig run started no pytest")


def test_a_run_killed_with_sigkill_gets_its_report_afterwards(tmp_path):
    reports = tmp_path / "reports"
    proc = rig("run", "--reports", str(reports), "--speed", "50", "-k", "depletion",
               "-p", "no:hypothesispytest")
    try:
        pytest_pid = _child_of(proc.pid)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            results = list(reports.glob("*/results.jsonl"))
            if results and '"kind": "measurement"' in results[0].read_text():
                break
            time.sleep(0.05)
        os.kill(pytest_pid, signal.SIGKILL)
        proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    run = only_run(reports)
    assert not (run / "report.pdf").exists()  # the plugin never reached the end
    done = subprocess.run([sys.executable, "-m", "rig", "report", str(run)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "INCOMPLETE" in done.stdout
    lines = (run / "results.jsonl").read_text().splitlines()
    last = json.loads(lines[-1])
    pages = pdf_pages(run / "report.pdf")
    first = pages[0].replace("/ ", "/")
    assert f"INCOMPLETE: the run record ends at line {len(lines)} ({last['kind']}" in first
    assert "Overall verdict: NOT CONCLUDED" in first
    assert "NOT CONCLUDED" in done.stdout
    for i, text in enumerate(pages, 1):
        assert "INCOMPLETE" in text and f"page {i} of {len(pages)}" in text
    assert "INCOMPLETE" in (run / "report.html").read_text()


def test_rig_report_names_a_folder_without_a_record(tmp_path):
    done = subprocess.run([sys.executable, "-m", "rig", "report", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == (f"rig report: {tmp_path / 'results.jsonl'} does not exist "
                                   "(a run directory holds results.jsonl)")
