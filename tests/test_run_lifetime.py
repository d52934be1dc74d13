"""`rig run` at every end: the bench safe last, a report and one line of reason, no orphans.

Each case runs the real `rig run` (a subprocess, its pytest child, the emulated bench as a
subprocess of that) on a tiny plan, stops it the way a lab would (Ctrl-C at the terminal,
SIGINT to the rig process alone, SIGTERM, SIGKILL) and looks at what is left: the AC
source's output read back over its own SCPI socket, the run folder, the processes.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: a plan whose module fixture switches the supply back on in its teardown, as the key-change
#: plan's `chain` (through `meter.prepare()`) once did after the bench was put safe
PLAN = '''
import time
from pathlib import Path

import pytest

MARK = Path({mark!r})


@pytest.fixture(scope="module")
def powered(bench):
    yield
    bench.instrument("source").output = True  # a teardown that powers the meter again


@pytest.mark.clause("C")
def test_first(record, bench):
    record("x", 1)


@pytest.mark.clause("C")
def test_long(record, bench, powered):
    MARK.write_text("in test_long")
    time.sleep(120)
'''


#: the emulated meter's key settings (the public STS test vending key), for bench files
KEYS = """[meter.keys]
dkga = "02"
ea = "07"
sgc = "123456"
ti = "01"
krn = 1
kt = 2
ken = 255
base_date = 2014
vending_key = "abababababababab"
"""


def rig_run(tmp: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    (tmp / "test_plan.py").write_text(PLAN.format(mark=str(tmp / "mark")))
    cmd = [sys.executable, "-m", "rig", "run", "--reports", str(tmp / "reports"),
           str(tmp / "test_plan.py"), "-p", "no:hypothesispytest", *args]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, env=env)


def wait_for(what: str, check, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def descendants(pid: int) -> set[int]:
    """Every process below `pid` (from /proc: children of each task)."""
    out: set[int] = set()
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                text = Path(f"/proc/{p}/task/{task}/children").read_text()
            except OSError:
                continue
            for child in map(int, text.split()):
                if child not in out:
                    out.add(child)
                    todo.append(child)
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def scpi(resource: str, line: str) -> str:
    port = int(resource.split("::")[2])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(line.encode() + b"\n")
        return s.makefile().readline().strip()


def real_bench_file(tmp: Path, info: dict) -> Path:
    """A bench file for an emulator started by the test: to the rig, a real bench."""
    inst = "".join(f'[instruments.{role}]\nresource = "{res}"\nmodel = "generic"\n'
                   for role, res in info["instruments"].items())
    path = tmp / "bench.toml"
    path.write_text(f'''[bench]
name = "bench under test"
emulated = false
speed = {info["speed"]}

[meter]
pan = "600727471234567834"
optical = "{info["optical"]}"
profile = "pln_default"
password = "00000000"

{KEYS}
[keypad]
port = "{info["keypad"]}"

{inst}
[safety]
terminals_open = false
''')
    return path


def run_dir(tmp: Path) -> Path:
    runs = [p for p in (tmp / "reports").iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


def end_line(run: Path) -> dict:
    lines = [json.loads(x) for x in (run / "results.jsonl").read_text().splitlines()]
    assert lines[-1]["kind"] == "run_end", lines[-1]
    return lines[-1]


@pytest.mark.parametrize("how", ["sigint-to-rig-alone", "ctrl-c-at-the-terminal", "sigterm"])
def test_a_stopped_run_leaves_the_source_off_last_with_its_report(tmp_path, start_emulator,
                                                                  how):
    emu = start_emulator("--speed", "50")
    bench = real_bench_file(tmp_path, emu.info)
    proc = rig_run(tmp_path, "--bench", str(bench))
    try:
        wait_for("the plan to reach test_long", (tmp_path / "mark").exists)
        assert scpi(emu.instruments["source"], "OUTP?") in ("1", "ON")
        if how == "sigint-to-rig-alone":
            os.kill(proc.pid, signal.SIGINT)
        elif how == "ctrl-c-at-the-terminal":
            os.killpg(proc.pid, signal.SIGINT)  # the terminal's foreground process group
        else:
            os.kill(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    # the supply is off, although the plan's teardown switched it on: the safe state came last
    assert scpi(emu.instruments["source"], "OUTP?") in ("0", "OFF")
    assert proc.returncode == 130, out[-2000:] + err[-2000:]
    run = run_dir(tmp_path)
    assert (run / "report.html").is_file() and (run / "junit.xml").is_file()
    end = end_line(run)
    reason = "SIGTERM" if how == "sigterm" else "Ctrl-C (SIGINT)"
    assert end["stopped"] == reason
    assert any(e.startswith("BenchStopped") for e in end["teardown_errors"]), end
    said = [line for line in out.splitlines() if line.startswith("rig: run stopped by")]
    assert len(said) == 1, out[-3000:]
    assert said[0].startswith(f"rig: run stopped by {reason} in ")
    assert said[0].endswith("::test_long after 1 of 2 tests; the bench is in its safe state")
    assert "Traceback" not in err and "ConnectionRefusedError" not in out + err
    # a stopped run is never a PASS: page 1 of the PDF and the console's last lines say so
    if how == "sigterm":  # one plain line, not pytest's crash-like KeyboardInterrupt block
        assert "KeyboardInterrupt" not in out + err and "!!!" not in out, out[-3000:]
        from report_support import pdf_pages

        first = pdf_pages(run / "report.pdf")[0]
        assert "Overall verdict: NOT CONCLUDED" in first
        assert "stopped by SIGTERM after 1 of 2 tests" in first
        tail = out.splitlines()[-8:]
        assert any(x.strip().startswith("overall verdict: NOT CONCLUDED (stopped by SIGTERM")
                   for x in tail), tail
        assert any(x.strip().endswith("report.pdf") for x in tail), tail


def test_sigkill_of_rig_run_takes_its_children_and_leaves_no_key_file(tmp_path):
    env = dict(os.environ, TMPDIR=str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    proc = rig_run(tmp_path, env=env)
    try:
        wait_for("the plan to reach test_long", (tmp_path / "mark").exists)
        children = descendants(proc.pid)
        assert len(children) >= 2  # pytest, and the emulator below it
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        wait_for("pytest and the emulator to end", lambda: not any(map(alive, children)),
                 timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    left = [p for p in (tmp_path / "tmp").rglob("*") if p.is_file()]
    assert not [p for p in left if "state" in p.name], left
    # the child stopped cleanly (SIGTERM from the kernel): its record ends with run_end
    assert end_line(run_dir(tmp_path))["stopped"] == "SIGTERM"


def test_sigkill_of_the_pytest_child_takes_the_emulator(tmp_path):
    proc = rig_run(tmp_path)
    try:
        wait_for("the plan to reach test_long", (tmp_path / "mark").exists)
        children = descendants(proc.pid)
        pytest_pid = min(children)  # the child was started first
        emulators = descendants(pytest_pid)
        assert emulators
        os.kill(pytest_pid, signal.SIGKILL)
        wait_for("the emulator to end", lambda: not any(map(alive, emulators)), timeout=60)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert "pytest was killed by SIGKILL" in err
    assert proc.returncode == 3
    # its record has no end; `rig report` renders what it has: NOT CONCLUDED, INCOMPLETE
    run = run_dir(tmp_path)
    done = subprocess.run([sys.executable, "-m", "rig", "report", str(run)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"run {run.name}: NOT CONCLUDED (INCOMPLETE" in done.stdout
    from report_support import pdf_pages

    first = pdf_pages(run / "report.pdf")[0]
    assert "Overall verdict: NOT CONCLUDED" in first and "verdict: PASS" not in first
    assert "without the run's end (the run was killed)" in first


def test_a_silent_meter_is_no_verdict_and_fails_the_run(tmp_path):
    master, slave = os.openpty()  # an optical head plugged in, and no meter behind it
    try:
        bench = tmp_path / "silent.toml"
        bench.write_text(f'''[bench]
name = "silent"
emulated = false

[meter]
pan = "600727471234567834"
optical = "{os.ttyname(slave)}"
profile = "pln_default"

{KEYS}''')
        (tmp_path / "test_plan.py").write_text('''
import pytest

@pytest.mark.clause("IEC 62056-21 identification")
def test_identification(optical, record):
    record("manufacturer", optical.identify().manufacturer, nominal="EMu")
''')
        proc = subprocess.run(
            [sys.executable, "-m", "rig", "run", "--reports", str(tmp_path / "reports"),
             "--bench", str(bench), str(tmp_path / "test_plan.py"), "-p",
             "no:hypothesispytest"], cwd=ROOT, capture_output=True, text=True, timeout=180)
    finally:
        os.close(master)
        os.close(slave)
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    first = next(i for i, line in enumerate(lines) if "NO VERDICT" in line)
    session_start = next(i for i, line in enumerate(lines) if "test session starts" in line)
    assert first < session_start + 6  # said at the top, before any test result
    assert "meter bring-up failed" in lines[first]
    assert "NO VERDICT" in lines[-1] or any("NO VERDICT" in x for x in lines[-8:])
    end = end_line(run_dir(tmp_path))
    assert end["no_verdict"].startswith("meter bring-up failed")


@pytest.mark.parametrize("args, says", [
    (["--fault", "no-such-fault"], "--fault no-such-fault: no such fault"),
    (["--bench", "no/such/bench.toml"], "no/such/bench.toml"),
    (["--speed", "0"], "--speed must be a positive number, got 0"),
    (["--profile", "no_such_profile"], "--profile no_such_profile: no meter profile named"),
    (["--answers", "no/such/answers.toml"], "--answers no/such/answers.toml: no such file"),
])
def test_bad_input_starts_nothing(tmp_path, args, says):
    proc = subprocess.run([sys.executable, "-m", "rig", "run", "--reports",
                           str(tmp_path / "reports"), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith("rig run: ") and says in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "reports").exists()


def test_an_unknown_option_names_rig_run_not_python_m_pytest(tmp_path):
    (tmp_path / "test_plan.py").write_text("def test_x():\n    pass\n")
    proc = subprocess.run([sys.executable, "-m", "rig", "run", "--reports",
                           str(tmp_path / "reports"), "--bogus", str(tmp_path / "test_plan.py")],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "rig run" in proc.stderr and "--bogus" in proc.stderr
    assert "python -m pytest" not in proc.stderr and "__main__" not in proc.stderr
    assert not (tmp_path / "reports").exists()
