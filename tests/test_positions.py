"""Many meters at once: `rig emulate --positions N` and `rig run --positions N`.

Over the real wire: the positions bench is `python -m emulator --positions N`, its source
and optical port driven by the rig's own drivers; the end-to-end test runs `rig run` with
two positions and the plan limited to the tests that catch late-relay.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from emulator.positions import position_faults, position_pan
from sts.pan import MeterPAN, luhn_check_digit

ROOT = Path(__file__).resolve().parent.parent
BASE_PAN = "600727471234567834"  # rig/benches/emulated.toml


def test_position_one_is_the_bench_files_meter_and_the_others_count_on():
    assert position_pan(BASE_PAN, 1) == BASE_PAN
    second = MeterPAN.parse(position_pan(BASE_PAN, 2))  # both check digits valid
    assert second.drn == "47123456791"
    assert MeterPAN.parse(position_pan(BASE_PAN, 12)).dsn == "12345689"


def test_a_meter_number_that_would_overflow_its_digits_is_refused():
    body = "9999999999"
    pan = MeterPAN("600727", body + str(luhn_check_digit(body))).digits
    assert position_pan(pan, 1) == pan
    with pytest.raises(ValueError, match="more than 10 digits"):
        position_pan(pan, 2)


def test_a_fault_at_a_position_goes_to_that_position_only():
    faults = position_faults(["late-relay@2", "bad-bcc"], 3)
    assert faults == {1: {"bad-bcc"}, 2: {"late-relay", "bad-bcc"}, 3: {"bad-bcc"}}
    with pytest.raises(ValueError, match="from 1 to 3"):
        position_faults(["late-relay@4"], 3)
    with pytest.raises(ValueError, match="unknown fault 'no-such'"):
        position_faults(["no-such@1"], 3)


@pytest.fixture()
def positions_bench():
    """`python -m emulator --positions 2` and its announced endpoints."""
    proc = subprocess.Popen([sys.executable, "-m", "emulator", "--positions", "2",
                             "--speed", "50", "--exit-on-stdin-eof"], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        yield json.loads(proc.stdout.readline())
    finally:
        proc.stdin.close()
        proc.wait(timeout=20)
        proc.stdout.close()


def test_a_supply_interruption_on_one_position_leaves_the_others_powered(positions_bench):
    from drivers.instruments import CommandRefused, model_class
    from drivers.optical import OpticalPort

    one, two = positions_bench["positions"]
    assert one["meter"]["pan"] != two["meter"]["pan"]
    sources = [model_class("source", "generic")(p["instruments"]["source"])
               for p in (one, two)]
    try:
        sources[0].output = False  # position 1's supply switch opens
        assert [s.output for s in sources] == [False, True]
        assert [s.measure_voltage() for s in sources] == [0.0, 230.0]
        port = OpticalPort(two["optical"])
        try:
            assert port.identify().ident == "STS-EMU-1.0.0"  # position 2's meter is on
        finally:
            port.close()
        # the shared source's voltage would move under position 2: refused, not applied
        with pytest.raises(CommandRefused, match=r"-221.*feeds position 2 at 230 V"):
            sources[0].voltage = 200
        assert sources[1].measure_voltage() == 230.0
        sources[1].output = False  # nobody fed: the shared voltage may change
        sources[0].voltage = 200
        sources[1].output = True
        assert sources[1].measure_voltage() == 200.0
    finally:
        for source in sources:
            source.close()


def rig_run(*args: str, reports: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rig", "run", "--reports", str(reports),
                           *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_a_fault_at_position_two_fails_position_two_only(tmp_path):
    done = rig_run("--positions", "2", "--fault", "late-relay@2", "--progress", "off",
                   "--rig-only-faults", "late-relay", reports=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    last = done.stdout.strip().splitlines()[-2:]  # the console's last lines: each position
    assert last[0].startswith("  position 1  meter 47123456783  NOT CONCLUDED (partial")
    assert "(exit 0)" in last[0]
    assert last[1].startswith("  position 2  meter 47123456791  FAIL")
    assert "(exit 1)" in last[1]
    runs = sorted(p for p in tmp_path.iterdir() if (p / "results.jsonl").is_file())
    assert [p.name.split("-", 2)[2] for p in runs] == ["p1", "p2"]  # no fault in a run id
    for run, meter in zip(runs, ("600727471234567834", "600727471234567917"), strict=True):
        start = json.loads((run / "results.jsonl").read_text().splitlines()[0])
        assert start["identity"]["meter"]["pan"] == meter
        assert start["position"] == run.name.split("-")[2][1:]  # "p1" -> "1"
        assert (run / "report.pdf").is_file() and (run / "report.html").is_file()
        outcomes = {json.loads(x)["outcome"] for x in (run / "results.jsonl").read_text()
                    .splitlines() if json.loads(x)["kind"] == "test"}
        assert outcomes == ({"passed"} if run.name.endswith("p1") else {"failed"})
    batch = next(p for p in tmp_path.iterdir() if p.name.endswith("-batch"))
    html = (batch / "batch.html").read_text()
    assert "47123456783" in html and "47123456791" in html
    assert "../" + runs[1].name + "/report.pdf" in html
    assert (batch / "batch.pdf").read_bytes().startswith(b"%PDF")
    assert "vending" not in (batch / "meters.csv").read_text()
    with sqlite3.connect(tmp_path / "results.sqlite") as db:
        rows = sorted(db.execute("SELECT meter_number, position, verdict FROM runs"))
    assert rows == [("47123456783", "1", "NOT CONCLUDED"), ("47123456791", "2", "FAIL")]


@pytest.mark.parametrize(("args", "said"), [
    (["--fault", "late-relay@2"], "NAME@K names a position; give --positions N"),
    (["--positions", "2", "--fault", "late-relay@3"], "from 1 to 2"),
    (["--positions", "0"], "--positions must be from 1 to"),
])
def test_a_bad_positions_request_is_refused_before_anything_starts(args, said, tmp_path):
    done = rig_run(*args, reports=tmp_path / "r")
    assert done.returncode == 2
    assert said in done.stderr
    assert not (tmp_path / "r").exists()


def test_a_bench_file_without_a_pan_needs_the_meter_to_say_it(tmp_path):
    text = (ROOT / "rig/benches/emulated.toml").read_text()
    bench = tmp_path / "nopan.toml"
    bench.write_text("\n".join(line for line in text.splitlines()
                               if not line.startswith("pan =")))
    from rig.bench.config import load_bench

    assert load_bench(bench).meter.pan is None
    done = rig_run("--bench", str(bench), reports=tmp_path / "r")
    assert done.returncode == 2
    assert "[meter] names no pan" in done.stderr and "--meters" in done.stderr
