"""End to end: `rig run` on the real emulated bench (a subprocess, its wires), a small plan.

The run leaves report.html, results.jsonl and junit.xml under reports/<run-id>/, the bench
identity read from the devices, no key anywhere, and no emulator behind it, also when the
run is stopped with SIGTERM halfway.
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

from emulator.setup import MeterSetup

ROOT = Path(__file__).resolve().parent.parent

PLAN = '''
import pytest

@pytest.mark.clause("IEC 62055-41:2014 8.2 TransferCredit accepted")
def test_credit_token(dut, vendor, record):
    before = dut.credit()
    result = dut.enter(vendor.credit("2.5"))
    record("outcome", result.outcome, nominal="ACCEPT")
    record("credit added", float(dut.credit() - before), "kWh", 2.4995, 2.5005)

@pytest.mark.clause("IEC 62056-21:2002 identification")
def test_identification(optical, record):
    record("manufacturer", optical.identify().manufacturer, nominal="EMu")

@pytest.mark.clause("bench: instruments answer")
def test_instruments(source, dmm, record):
    record("source output", source.output, nominal=True)
    record("dmm voltage", dmm.measure_voltage_ac(), "V", 220, 240)
'''

SLOW_PLAN = '''
import time
import pytest

@pytest.mark.clause("C")
def test_first(record, bench):
    record("x", 1)

@pytest.mark.clause("C")
def test_long(record, bench):
    time.sleep(60)
'''


def rig_run(tmp: Path, plan: str, *args: str, **popen: object) -> subprocess.Popen:
    (tmp / "test_small_plan.py").write_text(plan)
    cmd = [sys.executable, "-m", "rig", "run", "--reports", str(tmp / "reports"),
           str(tmp / "test_small_plan.py"), "-p", "no:hypothesispytest", *args]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **popen)


def records(run: Path) -> list[dict]:
    return [json.loads(x) for x in (run / "results.jsonl").read_text().splitlines()]


def assert_bench_gone(identity: dict) -> None:
    """Every TCP instrument of the emulated bench refuses connections, the ptys are gone."""
    for inst in identity["instruments"].values():
        port = int(inst["resource"].split("::")[2])
        with socket.socket() as s, pytest.raises(ConnectionRefusedError):
            s.connect(("127.0.0.1", port))
    assert not Path(identity["meter"]["optical"]).exists()
    assert not Path(identity["keypad"]["port"]).exists()


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    proc = rig_run(tmp, PLAN)
    out, err = proc.communicate(timeout=300)
    runs = [p for p in (tmp / "reports").iterdir() if p.is_dir()]
    assert len(runs) == 1, (out, err)
    return proc.returncode, out, err, runs[0]


def test_clean_run_passes_and_leaves_its_files(clean_run):
    code, out, err, run = clean_run
    assert code == 0, out[-3000:] + err[-2000:]
    for name in ("report.html", "results.jsonl", "junit.xml"):
        assert (run / name).is_file()
        assert str(run / name) in out  # rig run says where they are
    assert (run.parent / "LATEST").read_text().strip() == run.name


def test_identity_read_from_the_devices(clean_run):
    *_, run = clean_run
    lines = records(run)
    ident = lines[0]["identity"]
    assert ident["meter"]["manufacturer"] == "EMu"
    assert ident["meter"]["pan_read"] == ident["meter"]["pan"] == "600727471234567834"
    assert ident["meter"]["firmware"] == "1.0.0"
    assert ident["keypad"]["idn"].startswith("STS-RIG,KEYPAD-INJECTOR")
    assert ident["instruments"]["scope"]["idn"].startswith("STS-RIG,EMU-SCOPE")
    assert ident["speed"] == 200.0 and ident["faults"] == []
    credit = [x for x in lines if x["kind"] == "measurement" and x["name"] == "credit added"]
    assert credit[0]["verdict"] == "PASS" and credit[0]["bench_time"] > 0
    html = (run / "report.html").read_text()
    for text in ("STS-RIG,EMU-DMM", "EMu", "speed 200.0x, faults: none", "clause-matrix"):
        assert text in html
    assert_bench_gone(ident)


def test_no_key_in_any_output(clean_run):
    _, out, err, run = clean_run
    setup = MeterSetup.default()
    secrets = {"abababababababab", setup.decoder_key.hex()}
    texts = [p.read_text(errors="replace").lower() for p in run.rglob("*") if p.is_file()]
    texts.append((out + err).lower())
    for secret in secrets:
        assert not any(secret in text for text in texts), secret


def test_sigterm_halfway_keeps_the_record_and_stops_the_bench(tmp_path):
    proc = rig_run(tmp_path, SLOW_PLAN, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        run = None
        while time.monotonic() < deadline:
            runs = [p for p in (tmp_path / "reports").glob("*/results.jsonl")]
            text = runs[0].read_text() if runs else ""
            if '"name": "x"' in text and '"outcome": "passed"' in text:  # test_first done
                run = runs[0].parent
                break
            time.sleep(0.2)
        assert run is not None, "the plan never finished its first test"
        time.sleep(0.5)  # into test_long
        os.kill(proc.pid, signal.SIGTERM)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    lines = records(run)
    kinds = [x["kind"] for x in lines]
    assert kinds[0] == "run_start" and "measurement" in kinds
    assert kinds[-1] == "run_end"
    tests = {x["test"].split("::")[-1]: x["outcome"] for x in lines if x["kind"] == "test"}
    assert tests == {"test_first": "passed", "test_long": "interrupted"}
    assert_bench_gone(lines[0]["identity"])
