"""`--meters FILE` on the emulated bench: the meter's keys and lot come from the meters file
by the PAN the meter reports at bring-up, not from the bench file's [meter]."""

from __future__ import annotations

import json

import pytest
from plugin_support import lines, run_plan

pytest_plugins = ["pytester"]

PLAN = '''
import pytest

@pytest.mark.clause("meters file")
def test_keys_of_the_meter_on_the_bench(optical, bench_config, record):
    keys = bench_config.meter.keys
    assert (keys.sgc, keys.ti, keys.krn, keys.kt, keys.ken) == ("654321", "07", 3, 1, 200)
    assert keys.vending_key == "abababababababab"  # the bench file's reference, kept
    assert bench_config.meter.pan == "600727471234567834"
    record("sgc", keys.sgc, nominal="654321")
'''

# the emulated bench's meter (DRN 47123456783) in lot L7; the lot's row gives what the
# meter's own row leaves empty; the bench file's keys (sgc 123456, ti 01...) are not used
METERS = ("meter_number,pan,lot,sgc,ti,krn,kt,ken\n"
          ",,L7,654321,07,1,1,200\n"
          ",600727471234567834,L7,,,3,,\n")


def test_the_keys_and_lot_come_from_the_meters_file(pytester):
    meters = pytester.path / "meters.csv"
    meters.write_text(METERS)
    pytester.makepyfile(test_plan=PLAN)
    result = run_plan(pytester, f"--meters={meters}", run_id="r", html=False)
    result.assert_outcomes(passed=1)
    start = lines(pytester.path / "reports" / "r")[0]
    meter = start["identity"]["meter"]
    assert (meter["pan"], meter["lot"], meter["meters_file_lines"]) == \
        ("600727471234567834", "L7", [2, 3])
    assert "654321" not in json.dumps(start)  # the keys are no part of the run's identity


def test_a_meter_not_in_the_file_stops_the_run_naming_it(pytester):
    meters = pytester.path / "meters.csv"
    meters.write_text("meter_number,lot,sgc,ti,krn,kt\n45000000013,L7,123456,01,1,2\n")
    pytester.makepyfile(test_plan=PLAN)
    result = run_plan(pytester, f"--meters={meters}", run_id="r", html=False)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes()
    out = result.stdout.str() + result.stderr.str()
    assert f"--meters: {meters}: meter 47123456783 is not in the file" in out
