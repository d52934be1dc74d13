"""No plan or fixture sends a command the selected instrument model does not have.

The plan modules that drive the scope, the DMM, the load and the energy reference run on an
emulated bench whose every role is a real model (the bench files of rig/benches/); the
emulator logs every command a served model does not have (`--command-log`, set here through
STS_EMULATOR_COMMAND_LOG), and that log must stay empty while every test passes. The whole
plan per model is benchmarks/model_matrix.py (run by hand).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODULES = ("testplans/test_relay_credit.py", "testplans/test_management.py",
           "testplans/test_test_tokens.py")
BENCHES = (
    "emulated-chroma-keysight.toml",
    # the ITECH IT8600 declares no accuracy table (none could be cited); nothing is compared
    # against its readings on this bench: the power reference is the Yokogawa WT310E
    "emulated-keysight-itech-rigol.toml",
)


@pytest.mark.slow
@pytest.mark.parametrize("bench", BENCHES)
def test_plan_sends_only_the_models_commands(bench, tmp_path):
    log = tmp_path / "commands.log"
    reports = tmp_path / "reports"
    cmd = [sys.executable, "-m", "rig", "run", "--bench", str(ROOT / "rig" / "benches" / bench),
           "--reports", str(reports), "--rig-progress=off", *MODULES]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "STS_EMULATOR_COMMAND_LOG": str(log)})
    runs = [p for p in reports.iterdir() if p.is_dir()]
    assert len(runs) == 1, done.stdout[-2000:] + done.stderr[-2000:]
    lines = [json.loads(x) for x in (runs[0] / "results.jsonl").read_text().splitlines()]
    tests = [x for x in lines if x["kind"] == "test"]
    assert tests, "no plan test ran"
    failed = [t["test"] for t in tests if t["outcome"] not in ("passed", "skipped")]
    assert failed == [], done.stdout[-3000:]
    assert log.exists(), "the emulator did not take the command log"
    assert log.read_text() == "", "commands the served models do not have:\n" + log.read_text()
