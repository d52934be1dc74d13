"""`rig meter readout` names every register beside its code: the fact a plan asks for and
its meaning (from the meter profile), the emulated meter's diagnostics as such; `--json`
stays a list of objects, with the same names."""

from __future__ import annotations

import json

from rig.cli import main


def test_the_readout_names_each_register_from_the_profile(capsys):
    assert main(["meter", "readout"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["OBIS", "VALUE", "FACT", "MEANING"]
    rows = {line.split()[0]: line for line in lines[1:-1]}
    assert rows["1.8.0"].split()[:4] == ["1.8.0", "000000.000", "kWh", "energy_import"]
    assert rows["1.8.0"].endswith("cumulative active import energy")
    assert rows["C.50.0"].split()[3] == "credit"
    assert rows["0.0.0"].endswith("device address (meter number)")
    assert rows["C.60.0"].endswith("diagnostic: bench time now")
    assert len(rows) >= 45 and all(len(row.split()) >= 3 for row in rows.values())
    assert lines[-1] == "(names: meter profile pln_default; FACT is what a plan asks for)"


def test_the_json_readout_carries_the_names(capsys):
    assert main(["meter", "readout", "--json"]) == 0
    registers = json.loads(capsys.readouterr().out)
    by_code = {r["obis"]: r for r in registers}
    assert by_code["1.8.0"] == {"obis": "1.8.0", "value": "000000.000", "unit": "kWh",
                                "fact": "energy_import",
                                "meaning": "cumulative active import energy"}
    assert by_code["C.60.0"]["fact"] is None
