"""Each run gets a run folder of its own, whatever its id and however many start at once;
`--reports` that cannot hold one is refused in one line before anything starts.

The runs are real `rig run` processes on a tiny record-only plan (no bench is opened), and
the folder functions are called from several processes started together.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PLAN = '''
import pytest


@pytest.mark.clause("C")
def test_one(record):
    record("x", 1, nominal=1)
'''

RACE = '''
import sys, time
from pathlib import Path
from rig.record.run_folder import {fn}
go = Path(sys.argv[1])
while not go.exists():
    time.sleep(0.001)
print({fn}(Path(sys.argv[2]), "20261204-101500"))
'''


@pytest.mark.parametrize("fn", ["make_run_dir", "claim_run_dir"])
def test_processes_started_together_get_distinct_folders(tmp_path, fn):
    go, base = tmp_path / "go", tmp_path / "reports"
    procs = [subprocess.Popen([sys.executable, "-c", RACE.format(fn=fn), str(go), str(base)],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True) for _ in range(6)]
    time.sleep(1.0)  # every process waiting for the same moment
    go.touch()
    dirs = [proc.communicate(timeout=60)[0].strip() for proc in procs]
    assert all(proc.returncode == 0 for proc in procs)
    assert len(set(dirs)) == 6, dirs
    assert sorted(Path(d).name for d in dirs) == ["20261204-101500"] + [
        f"20261204-101500-{n}" for n in range(2, 7)]


def test_a_folder_holding_a_record_is_never_claimed_again(tmp_path):
    from rig.record.run_folder import claim_run_dir

    first = claim_run_dir(tmp_path, "r")
    (first / "results.jsonl").write_text('{"kind": "run_start"}\n')
    second = claim_run_dir(tmp_path, "r")
    assert second.name == "r-2" and (second / "results.jsonl").read_text() == ""
    assert (first / "results.jsonl").read_text() == '{"kind": "run_start"}\n'


def _rig_run(tmp_path: Path, reports: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "rig", "run", "--reports", str(reports), "--progress", "off",
           str(tmp_path / "test_plan.py"), "-p", "no:hypothesispytest"]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def test_two_runs_started_in_the_same_second_get_two_folders(tmp_path):
    (tmp_path / "test_plan.py").write_text(PLAN)
    reports = tmp_path / "reports"
    while time.time() % 1 > 0.05:  # both start at the top of one second: the same run id
        time.sleep(0.005)
    procs = [_rig_run(tmp_path, reports), _rig_run(tmp_path, reports)]
    outs = [proc.communicate(timeout=300) for proc in procs]
    for proc, (out, err) in zip(procs, outs, strict=True):
        assert proc.returncode == 0, out[-2000:] + err[-2000:]
    runs = sorted(p for p in reports.iterdir() if p.is_dir())
    assert len(runs) == 2, runs
    for run in runs:
        lines = [json.loads(x) for x in (run / "results.jsonl").read_text().splitlines()]
        kinds = [x["kind"] for x in lines]
        assert kinds.count("run_start") == 1 and kinds[-1] == "run_end", kinds
        assert lines[0]["run_id"] == run.name
        for name in ("report.html", "report.pdf", "junit.xml"):
            assert (run / name).is_file(), (run, name)
    # each rig run names its own folder, and its own counts
    named = {line.split()[-1] for out, _ in outs for line in out.splitlines()
             if line.strip().startswith("results")}
    assert named == {str(run / "results.jsonl") for run in runs}


def test_reports_naming_a_file_is_refused_before_anything_starts(tmp_path):
    (tmp_path / "test_plan.py").write_text(PLAN)
    a_file = tmp_path / "reports.txt"
    a_file.write_text("not a folder")
    proc = _rig_run(tmp_path, a_file)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, out + err
    assert err.splitlines() == [f"rig run: --reports {a_file}: {a_file}: not a folder"]
    assert out == "" and a_file.read_text() == "not a folder"


def test_reports_on_a_read_only_folder_is_refused_before_anything_starts(tmp_path):
    (tmp_path / "test_plan.py").write_text(PLAN)
    ro = tmp_path / "ro"
    ro.mkdir()
    if os.geteuid() == 0:  # root writes through permissions: a read-only mount then
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(ro)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a read-only tmpfs here: {done.stderr.strip()}")
    else:
        ro.chmod(0o555)
    try:
        proc = _rig_run(tmp_path, ro / "reports")
        out, err = proc.communicate(timeout=120)
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", "-l", str(ro)], check=False)
        else:
            ro.chmod(0o755)
    assert proc.returncode == 2, out + err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"rig run: --reports {ro / 'reports'}: ")
    assert "Read-only file system" in lines[0] or "Permission denied" in lines[0]
    assert out == ""
