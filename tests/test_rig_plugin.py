"""The pytest plugin: the run record, verdicts from limits, the report, and no key anywhere."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from emulator.setup import MeterSetup
from rig.record.run_record import Measurement, judge

pytest_plugins = ["pytester"]

PLAN = '''
import pytest

@pytest.mark.clause("IEC 62055-41:2014 9.9 demo clause")
def test_records_then_fails(record):
    record("voltage", 231.0, "V", 220, 240)
    record("outcome", "ACCEPT", nominal="ACCEPT")
    raise RuntimeError("a later step failed")

@pytest.mark.clause("IEC 62055-41:2014 9.9 demo clause", "SPLN D3.009-1:2010 other")
def test_out_of_limits_fails_without_an_assert(record):
    record("current", 7.5, "A", 0, 5)

@pytest.mark.clause("SPLN D3.009-1:2010 other")
def test_passes(record, vendor, dut):
    token = vendor.credit("1.5")
    result = dut.enter(token)
    record("outcome", result.outcome, nominal="ACCEPT")
    record("credit", float(dut.credit()), "kWh", 1.4995, 1.5005)

@pytest.mark.clause("IEC 62056-21:2002 readout")
def test_needs_a_device(bench):
    pytest.skip("no such device on this bench")
'''


def test_judge_verdicts():
    assert judge(5, 0, 10) == "PASS" and judge(11, 0, 10) == "FAIL"
    assert judge("x", 0, 1) == "FAIL" and judge(3, None, None) == "INFO"
    assert judge("USED", None, None, "USED") == "PASS"
    assert Measurement("t", "v", 1.0, "V", None, 2.0).limits_text() == "<= 2"


@pytest.fixture(scope="module")
def plan_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("plan")
    (root / "test_plan.py").write_text(PLAN)
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(root / "test_plan.py"),
         f"--rig-report-dir={root / 'reports'}", "--rig-run-id=run1",
         f"--html={root / 'reports' / 'run1' / 'report.html'}", "--self-contained-html",
         f"--junitxml={root / 'reports' / 'run1' / 'junit.xml'}"],
        cwd=root, capture_output=True, text=True, timeout=300)
    return root / "reports" / "run1", out


def lines(run: Path) -> list[dict]:
    return [json.loads(x) for x in (run / "results.jsonl").read_text().splitlines()]


def test_measurements_reach_the_record_even_when_the_test_fails(plan_run):
    run, out = plan_run
    assert out.returncode == 1, out.stdout[-2000:]
    records = lines(run)
    kinds = [r["kind"] for r in records]
    assert kinds[0] == "run_start" and kinds[-1] == "run_end"
    m = {(r["test"].split("::")[-1], r["name"]): r for r in records if r["kind"] == "measurement"}
    assert m[("test_records_then_fails", "voltage")]["verdict"] == "PASS"
    assert m[("test_records_then_fails", "voltage")]["unit"] == "V"
    assert m[("test_out_of_limits_fails_without_an_assert", "current")]["verdict"] == "FAIL"
    assert m[("test_passes", "credit")]["verdict"] == "PASS"
    outcomes = {r["test"].split("::")[-1]: r["outcome"] for r in records
                if r["kind"] == "test" and r["phase"] in ("call", "setup")}
    assert outcomes == {"test_records_then_fails": "failed",
                        "test_out_of_limits_fails_without_an_assert": "failed",
                        "test_passes": "passed", "test_needs_a_device": "skipped"}


def test_clause_matrix(plan_run):
    run, _ = plan_run
    end = lines(run)[-1]
    matrix = {row["clause"]: row["verdict"] for row in end["clause_matrix"]}
    assert matrix == {"IEC 62055-41:2014 9.9 demo clause": "FAIL",
                      "SPLN D3.009-1:2010 other": "FAIL",
                      "IEC 62056-21:2002 readout": "SKIPPED"}
    html = (run / "report.html").read_text()
    assert "Clause matrix" in html and html.index("clause-matrix") > html.index("<body")
    assert "Bench identity" in html and "600727471234567834" in html
    assert "Declared values" in html and "relay.operate_limit_s" in html
    assert (run / "junit.xml").exists()


def test_no_key_in_any_output(plan_run):
    run, out = plan_run
    setup = MeterSetup.default()
    secrets = {"abababababababab", setup.decoder_key.hex()}
    texts = [p.read_text(errors="replace").lower() for p in run.rglob("*") if p.is_file()]
    texts.append((out.stdout + out.stderr).lower())
    for secret in secrets:
        assert not any(secret in t for t in texts)
    # and not in any base64 chunk of the report either (a plot or a data blob)
    assert not any(re.search(secret, t) for t in texts for secret in secrets)


def test_bad_bench_file_stops_before_any_test(tmp_path):
    (tmp_path / "bench.toml").write_text('[meter]\npan = "600727471234567834"\nfoo = 1\n')
    (tmp_path / "test_plan.py").write_text(PLAN)
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                          "test_plan.py", "--bench=bench.toml",
                          f"--rig-report-dir={tmp_path / 'r'}"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert "unknown key 'meter.foo'" in out.stderr + out.stdout
    assert "passed" not in out.stdout
