"""A full disk: `rig run` says so in one clear line and exits 3 (the rig could not write its
own files, README), with no INTERNALERROR traceback, no half-written report.html left in
place, and a record that `rig report` can still read (whole lines only).

The disk is a 64 kB tmpfs the test mounts (root only; skipped, naming why, elsewhere), filled
to leave 16 kB free (the record's first lines fit, not more) or 40 kB (the record fits, the
report does not); with 4 kB free not even the record's first line fits, nor junit.xml.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PLAN = '''
import pytest


@pytest.mark.clause("C")
def test_one(record):
    record("x", 1, nominal=1)


@pytest.mark.clause("C")
def test_two(record):
    record("y", 2, nominal=2)
'''


@pytest.fixture
def small_disk(tmp_path):
    """A 64 kB tmpfs at tmp_path/disk, and a function leaving `n` bytes free on it."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")

    def leave_free(n: int) -> Path:
        st = os.statvfs(disk)
        (disk / "filler").write_bytes(b"x" * (st.f_bavail * st.f_frsize - n))
        st = os.statvfs(disk)
        assert st.f_bavail * st.f_frsize == n
        return disk

    yield leave_free
    if subprocess.run(["umount", str(disk)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(disk)], check=False)  # a file left open


@pytest.mark.parametrize("free_kb", [4, 16, 40])
def test_a_full_disk_is_one_clear_line_and_exit_3(tmp_path, small_disk, free_kb):
    disk = small_disk(free_kb * 1024)
    (tmp_path / "test_plan.py").write_text(PLAN)
    cmd = [sys.executable, "-m", "rig", "run", "--reports", str(disk / "reports"),
           "--progress", "off", str(tmp_path / "test_plan.py"), "-p", "no:hypothesispytest"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    out = done.stdout + done.stderr
    assert done.returncode == 3, out[-3000:]
    assert "INTERNALERROR" not in out and "Traceback" not in out, out[-3000:]
    assert "No space left on device" in out
    run = next(p for p in (disk / "reports").iterdir() if p.is_dir())
    assert any(line.startswith("rig run: report.html and report.pdf not written") and
               f"`rig report {run}`" in line for line in done.stderr.splitlines()), out
    html = run / "report.html"
    assert not html.exists() or html.read_text().rstrip().endswith("</html>")
    assert not [p.name for p in run.iterdir() if p.name.startswith(".")]  # no temp file left
    raw = (run / "results.jsonl").read_bytes()
    assert raw == b"" or raw.endswith(b"\n")  # whole lines only
    lines = [json.loads(x) for x in raw.decode().splitlines()]
    if lines:  # what was recorded renders (once there is room)
        from rig.record.report_model import load

        assert lines[0]["kind"] == "run_start"
        assert load(run).run_id == run.name


def test_a_record_line_the_disk_cannot_hold_is_taken_back(tmp_path, small_disk, capsys):
    from rig.record.run_record import RunRecord

    disk = small_disk(8 * 1024)
    record = RunRecord(disk / "results.jsonl")
    record.write("run_start", run_id="r")
    record.write("measurement", test="t", name="big", value="x" * 20000)
    record.write("run_end", counts={})  # nothing after a failed line: no hole in the record
    record.close()
    lines = (disk / "results.jsonl").read_text().splitlines()
    assert [json.loads(x)["kind"] for x in lines] == ["run_start"]
    err = capsys.readouterr().err
    assert "No space left on device; the record ends after line 1" in err


def test_the_record_is_fsynced_when_the_run_ends(tmp_path, monkeypatch):
    import rig.record.atomic_files as atomic_files
    from rig.record.run_record import RunRecord

    synced: list[int] = []
    real = os.fsync
    monkeypatch.setattr(atomic_files.os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    record = RunRecord(tmp_path / "results.jsonl")
    record.write("run_start", run_id="r")
    assert synced == []  # per line: written whole, not synced (a run writes many)
    record.close()
    assert len(synced) == 1
