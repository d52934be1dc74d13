"""Bench bring-up through the plugin: a bad bench stops the run with one message before any
test; an instrument past its calibration date is refused unless allowed; a meter that does
not answer skips the tests that need it, with the reason, after one attempt."""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path

import pytest
from plugin_support import lines, run_plan, short

pytest_plugins = ["pytester"]

EMULATED = Path(__file__).resolve().parent.parent / "rig" / "benches" / "emulated.toml"

PLAN = '''
import pytest

@pytest.mark.clause("IEC 62056-21:2002 identification")
def test_reads_the_meter(optical, record):
    record("manufacturer", optical.identify().manufacturer, nominal="EMu")

@pytest.mark.clause("IEC 62056-21:2002 readout")
def test_reads_it_again(optical, record):
    record("manufacturer", optical.identify().manufacturer, nominal="EMu")

@pytest.mark.clause("bench: DMM")
def test_uses_the_dmm(dmm, record):
    record("dmm idn", dmm.idn)
'''


def emulated_bench(tmp: Path, extra: str = "", **replace: str) -> Path:
    """The packaged emulated bench with some lines changed or added."""
    text = EMULATED.read_text()
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    path = tmp / "bench.toml"
    path.write_text(text + extra)
    return path


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unknown_key_stops_before_any_test(pytester):
    bench = emulated_bench(pytester.path, "", **{'profile = "pln_default"':
                                                   'profile = "pln_default"\ncolour = "red"'})
    pytester.makepyfile(test_plan=PLAN)
    result = run_plan(pytester, f"--bench={bench}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "unknown key 'meter.colour'" in result.stderr.str()
    assert "passed" not in result.stdout.str() and "collected" not in result.stdout.str()
    assert not (pytester.path / "reports").exists()


def test_fault_on_a_real_bench_is_refused(pytester, tmp_path):
    bench = tmp_path / "real.toml"
    bench.write_text('[meter]\npan = "600727471234567834"\noptical = "/dev/ttyUSB0"\n')
    pytester.makepyfile(test_plan=PLAN)
    result = run_plan(pytester, f"--bench={bench}", "--fault=late-relay")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--fault applies to an emulated bench only" in result.stderr.str()


def test_missing_port_stops_before_any_test(pytester, tmp_path):
    bench = tmp_path / "real.toml"
    bench.write_text('[meter]\npan = "600727471234567834"\n'
                     'optical = "/dev/rig-no-such-port"\n')
    pytester.makepyfile(test_plan=PLAN)
    result = run_plan(pytester, f"--bench={bench}", run_id="r", html=False)
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # a bench problem (issue 19)
    result.assert_outcomes()
    out = result.stdout.str() + result.stderr.str()
    assert "bench bring-up failed" in out and "/dev/rig-no-such-port" in out
    record = lines(pytester.path / "reports" / "r")
    assert [r["kind"] for r in record] == ["run_start", "report_context", "run_end"]
    assert "/dev/rig-no-such-port" in record[0]["bench_error"]


def test_instrument_that_does_not_answer_stops_before_any_test(pytester, tmp_path):
    port = closed_port()
    bench = tmp_path / "real.toml"
    bench.write_text('[meter]\npan = "600727471234567834"\noptical = "/dev/rig-no-such-port"\n'
                     f'[instruments.dmm]\nresource = "TCPIP::127.0.0.1::{port}::SOCKET"\n')
    pytester.makepyfile(test_plan=PLAN)
    result = run_plan(pytester, f"--bench={bench}", "-k", "dmm")
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # a bench problem (issue 19)
    result.assert_outcomes()
    out = result.stdout.str() + result.stderr.str()
    assert "bench bring-up failed: dmm TCPIP::127.0.0.1::" in out and str(port) in out
    assert "Connection refused" in out


def test_expired_calibration_refused_unless_allowed(pytester):
    bench = emulated_bench(pytester.path, **{"[instruments.dmm]\nmodel = \"generic\"":
                                             "[instruments.dmm]\nmodel = \"generic\"\n"
                                             "calibration_due = 2020-01-01"})
    pytester.makepyfile(test_plan=PLAN)
    refused = run_plan(pytester, f"--bench={bench}", "-k", "dmm", run_id="refused",
                       html=False)
    assert refused.ret == pytest.ExitCode.TESTS_FAILED  # a bench problem (issue 19)
    refused.assert_outcomes()
    out = refused.stdout.str() + refused.stderr.str()
    assert "past its calibration due date 2020-01-01" in out
    assert "--allow-expired-calibration" in out

    allowed = run_plan(pytester, f"--bench={bench}", "-k", "dmm", "--allow-expired-calibration",
                       run_id="allowed", html=False)
    allowed.assert_outcomes(passed=1)
    start = lines(pytester.path / "reports" / "allowed")[0]
    dmm = start["identity"]["instruments"]["dmm"]
    assert dmm["calibration_due"] == "2020-01-01" and dmm["calibration_expired"] is True
    assert dmm["idn"].startswith("STS-RIG,EMU-DMM")
    assert start["allow_expired_calibration"] is True


SILENT_PLAN = PLAN.replace("dmm", "vendor").replace("vendor.idn", "vendor.pan")


def test_silent_meter_skips_the_tests_that_need_it(pytester, tmp_path):
    # a real bench whose optical port is a pty nobody answers on: the meter is silent
    master, slave = os.openpty()
    try:
        bench = tmp_path / "real.toml"
        bench.write_text(f'[meter]\npan = "600727471234567834"\noptical = "{os.ttyname(slave)}"\n'
                         '[meter.keys]\nvending_key = "abababababababab"\n')
        pytester.makepyfile(test_plan=SILENT_PLAN)
        result = run_plan(pytester, f"--bench={bench}", "-rs", run_id="r", html=False)
        os.set_blocking(master, False)
        asked = b""
        with contextlib.suppress(BlockingIOError):
            while chunk := os.read(master, 4096):
                asked += chunk
    finally:
        os.close(master)
        os.close(slave)
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(["*SKIPPED*meter bring-up failed: no answer on the optical "
                                 "port*"])
    record = lines(pytester.path / "reports" / "r")
    assert record[0]["meter_error"].startswith("meter bring-up failed: no answer")
    tests = {short(r["test"]): r for r in record if r["kind"] == "test"}
    assert tests["test_uses_the_vendor"]["outcome"] == "passed"
    reasons = {tests[n]["reason"] for n in ("test_reads_the_meter", "test_reads_it_again")}
    assert len(reasons) == 1 and reasons.pop() == record[0]["meter_error"]
    # one bring-up attempt for the session (a sign-on and its 2 retries), not one per test
    assert asked.count(b"/?!\r\n") == 3
