"""The fault detection table: a conformance plan is only worth what it catches.

For every emulator fault, `rig run --fault NAME` (limited to the plan tests marked to catch
that fault) must end with at least one failed test, and each failed test names the clause it
checks; the clean emulated bench passes the whole plan. The table (fault -> failing tests)
is written to reports/fault-table.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from emulator.faults import FAULTS

ROOT = Path(__file__).resolve().parent.parent


def run_plan(tmp: Path, *args: str) -> list[dict]:
    """`rig run` into tmp; the `test` lines of its results file."""
    cmd = [sys.executable, "-m", "rig", "run", "--reports", str(tmp), *args]
    subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    runs = [p for p in tmp.iterdir() if p.is_dir()]
    assert len(runs) == 1, f"expected one run directory in {tmp}"
    lines = [json.loads(x) for x in (runs[0] / "results.jsonl").read_text().splitlines()]
    return [x for x in lines if x["kind"] == "test"]


@pytest.fixture(scope="module")
def table() -> dict[str, list[str]]:
    return {}


@pytest.mark.slow
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_fault_fails_a_plan_test(fault, tmp_path, table):
    tests = run_plan(tmp_path, "--fault", fault, "--rig-only-faults", fault)
    assert tests, f"no plan test is marked to catch {fault}"
    failed = [t for t in tests if t["outcome"] == "failed"]
    table[fault] = [f"{t['test'].split('::')[-1]} ({'; '.join(t['clauses'])})" for t in failed]
    assert failed, f"fault {fault}: every plan test passed"
    assert all(t["clauses"] for t in failed), "a failing plan test names no clause"
    out = ROOT / "reports" / "fault-table.md"
    out.parent.mkdir(exist_ok=True)
    rows = [f"| {name} | {'<br>'.join(rows)} |" for name, rows in sorted(table.items())]
    out.write_text("| fault | failing plan tests (clauses) |\n|---|---|\n" + "\n".join(rows) + "\n")


@pytest.mark.slow
def test_clean_bench_passes_the_whole_plan(tmp_path):
    tests = run_plan(tmp_path)
    outcomes = {t["test"]: t["outcome"] for t in tests if t["phase"] == "call"}
    assert len(outcomes) >= 25
    assert all(o == "passed" for o in outcomes.values()), {
        k: v for k, v in outcomes.items() if v != "passed"}
