"""A plan reads a fact through a new kind of fact source (issue 15): the test-only kind of
tests/fixed_source.py, loaded as a pytest plugin (`-p fixed_source`), nothing else changed.

The plan is a pytest module run by `rig run` with the rig's own fixtures (`dut`, `record`),
on a bench whose meter is the emulated one over its real wires; its profile declares the
firmware on the new kind and one fact on none. The record must show the fact read through
the new kind (its value, its tag, its description), and the fact not offered must be a skip
naming it: the meter layer's error, turned into a skip by the pytest layer.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent

PLAN = '''
def test_firmware_through_a_new_kind(dut, record):
    record("firmware", dut.fact("firmware"), nominal="7.7-fixed", fact="firmware")
    record("meter number", dut.fact("meter_number"), nominal="47123456783",
           fact="meter_number")


def test_a_fact_declared_on_none(dut, record):
    record("tariff index", dut.fact("tariff_index"), fact="tariff_index")
'''


def _profile(tmp_path: Path) -> Path:
    text = (ROOT / "meterprofile" / "pln_default.toml").read_text()
    text, n = re.subn(r"(?ms)^\[facts\.firmware\]\n.*?(?=^\[)",
                      '[facts.firmware]\nsource = "fixed"\nvalue = "7.7-fixed"\n', text)
    assert n == 1, "pln_default.toml: no [facts.firmware] table"
    text, n = re.subn(r"(?ms)^\[facts\.tariff_index\]\n.*?(?=^\[|\Z)",
                      '[facts.tariff_index]\nsource = "none"\n', text)
    assert n == 1, "pln_default.toml: no [facts.tariff_index] table"
    path = tmp_path / "fixed_meter.toml"
    path.write_text(text)
    return path


def test_a_plan_reads_a_fact_through_a_new_source_kind(start_emulator, tmp_path):
    emu = start_emulator("--speed", "50")
    _profile(tmp_path)
    bench = emu.bench_file(tmp_path / "bench.toml", "a new fact source kind",
                           profile="fixed_meter.toml", dmm=False)
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "test_new_kind.py").write_text(PLAN)
    reports = tmp_path / "reports"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(TESTS), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.run(
        [sys.executable, "-m", "rig", "run", "--bench", str(bench), "--reports", str(reports),
         "--progress", "off", "-p", "fixed_source", str(plans / "test_new_kind.py")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    runs = [p for p in reports.iterdir() if p.is_dir()] if reports.is_dir() else []
    assert len(runs) == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    lines = [json.loads(x) for x in (runs[0] / "results.jsonl").read_text().splitlines()]
    tests = {x["test"].split("::")[-1]: x for x in lines if x["kind"] == "test"}
    seen = {x["name"]: x for x in lines if x["kind"] == "measurement"}

    read = tests["test_firmware_through_a_new_kind"]
    assert read["outcome"] == "passed", read
    firmware = seen["firmware"]
    assert firmware["value"] == "7.7-fixed" and firmware["verdict"] == "PASS", firmware
    assert (firmware["source"], firmware["obtained"]) == ("fixed", "fixed 7.7-fixed"), firmware
    number = seen["meter number"]  # a register, over the real wire, beside it
    assert (number["value"], number["source"]) == ("47123456783", "register"), number

    skipped = tests["test_a_fact_declared_on_none"]
    assert skipped["outcome"] == "skipped", skipped
    assert "does not offer fact 'tariff_index'" in skipped["reason"], skipped
    assert "tariff index" not in seen
