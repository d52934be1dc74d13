"""The meters file: a meter's keys from its own row and its lot's, every problem one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from rig.bench.config import MeterKeys
from rig.bench.meters_file import MeterNotInFile, MetersFileError, load_meters

PAN_A = "600727471234567834"  # DRN 47123456783
PAN_B = "000012345678901286"  # DRN 1234567890128 (IIN 0000)
PAN_C = "600727450000000139"  # DRN 45000000013

GOOD = """\ufeffmeter_number,pan,lot,sgc,ti,krn,kt,ken,base_date,dkga,ea
# lot L7: the keys of every meter of the lot
,,L7,123456,01,1,2,255,2014,02,07

47123456783,,L7,,,3,,,,,
,000012345678901286,,654321,07,2,1,,1993,04,11
"""


def _file(tmp_path: Path, text: str, name: str = "meters.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_meters_row_overrides_its_lots_row_cell_by_cell(tmp_path):
    meters = load_meters(_file(tmp_path, GOOD))
    keys = meters.keys_for("47123456783")
    assert keys == MeterKeys(sgc="123456", ti="01", krn=3, kt=2, ken=255, base_date=2014,
                             dkga="02", ea="07")
    assert meters.keys_for(PAN_A) == keys  # by its PAN: the same meter
    entry = meters.entry_for("4712-3456-783")
    assert (entry.meter_number, entry.lot, entry.lines) == ("47123456783", "L7", (3, 5))


def test_a_meter_given_by_pan_and_the_defaults_of_what_no_row_gives(tmp_path):
    meters = load_meters(_file(tmp_path, GOOD))
    keys = meters.keys_for("1234567890128", vending_key="env:STS_VENDING_KEY")
    assert (keys.sgc, keys.ti, keys.krn, keys.kt, keys.base_date, keys.dkga, keys.ea) == \
        ("654321", "07", 2, 1, 1993, "04", "11")
    assert keys.ken == 255  # not in the file: MeterKeys' default
    assert keys.vending_key == "env:STS_VENDING_KEY"
    assert "STS_VENDING_KEY" not in repr(keys)


def test_a_meter_without_a_row_takes_its_lots_row_when_the_lot_is_named(tmp_path):
    meters = load_meters(_file(tmp_path, GOOD))
    assert meters.keys_for(PAN_C, lot="L7") == MeterKeys(
        sgc="123456", ti="01", krn=1, kt=2, ken=255, base_date=2014, dkga="02", ea="07")
    with pytest.raises(MeterNotInFile) as err:
        meters.keys_for(PAN_C)
    assert str(err.value) == (f"{tmp_path / 'meters.csv'}: meter 45000000013 is not in the "
                              f"file; add a row with its meter number or its lot")
    with pytest.raises(MeterNotInFile, match="and lot 'L8' has no row"):
        meters.keys_for(PAN_C, lot="L8")
    with pytest.raises(LookupError):  # a MeterNotInFile is a LookupError as well
        meters.keys_for("01123456780")


def test_a_meter_whose_row_names_another_lot_is_refused(tmp_path):
    meters = load_meters(_file(tmp_path, GOOD))
    with pytest.raises(MetersFileError, match="line 5: meter 47123456783 is in lot 'L7', "
                                              "not in lot 'L8'"):
        meters.keys_for(PAN_A, lot="L8")
    with pytest.raises(MetersFileError, match=r"cannot look up meter '47123456784'.*Luhn"):
        meters.keys_for("47123456784")


def test_one_line_per_problem_naming_file_line_and_column(tmp_path):
    text = ("meter_number,lot,sgc,ti,krn,kt\n"
            ",L7,123456,01,1,2\n"
            "47123456783,L7,123456,01,1,2\n"
            "45000000013,L7,12345,1,0,4\n"
            "47123456784,L7,123456,01,1,2\n"
            "47123456783,L7,123456,01,1,2\n"
            ",,123456,01,1,2\n"
            ",L7,654321,01,1,2\n"
            "1234567890128,L7\n")
    with pytest.raises(MetersFileError) as err:
        load_meters(_file(tmp_path, text))
    name = tmp_path / "meters.csv"
    assert err.value.lines == [
        f"{name} line 4: sgc '12345' is not 6 digits",
        f"{name} line 4: ti '1' is not 2 digits",
        f"{name} line 4: krn '0' is not a whole number from 1 to 9",
        f"{name} line 4: kt '4' is not a whole number from 0 to 3",
        f"{name} line 5: meter_number '47123456784' is not a meter number (meter number "
        f"(DRN) 47123456784: DRN check digit is 4, Luhn gives 3)",
        f"{name} line 6: meter 47123456783 is already on line 3",
        f"{name} line 7: neither a meter_number (or pan) nor a lot: the row applies to no "
        f"meter",
        f"{name} line 8: lot 'L7' already has a row on line 2",
        f"{name} line 9: 2 cells, the header (line 1) has 6",
    ]


def test_the_header_and_the_pan_are_checked(tmp_path):
    with pytest.raises(MetersFileError) as err:
        load_meters(_file(tmp_path, "meter,sgc,sgc\n1,123456,123456\n"))
    name = tmp_path / "meters.csv"
    assert err.value.lines == [
        f"{name} line 1: unknown column 'meter' (known: meter_number, pan, lot, sgc, ti, "
        f"krn, kt, ken, base_date, dkga, ea)",
        f"{name} line 1: column 'sgc' appears twice",
        f"{name} line 1: no meter_number, pan or lot column: the rows would apply to no "
        f"meter",
    ]
    text = ("meter_number,pan,sgc,ti,krn,kt,base_date,dkga,ea\n"
            f"47123456783,{PAN_B},123456,01,1,2,2014,02,07\n"
            "47123456783,600727471234567835,123456,01,1,2,2015,03,08\n")
    with pytest.raises(MetersFileError) as err:
        load_meters(_file(tmp_path, text))
    assert err.value.lines == [
        f"{name} line 2: pan '{PAN_B}' is not the PAN of meter_number 47123456783 (its "
        f"meter number is 1234567890128)",
        f"{name} line 3: pan '600727471234567835' is not a MeterPAN (MeterPAN "
        f"600727471234567835: PAN check digit is 5, Luhn gives 4)",
        f"{name} line 3: base_date '2015' is not 1993, 2014 or 2035",
        f"{name} line 3: dkga '03' is not 02 or 04",
        f"{name} line 3: ea '08' is not 07 or 11",
    ]


def test_a_meter_missing_required_keys_and_unreadable_files(tmp_path):
    meters = load_meters(_file(tmp_path, "meter_number,lot,sgc\n47123456783,L1,123456\n"))
    with pytest.raises(MetersFileError, match=r"meter 47123456783: no ti, krn, kt on its "
                                              r"rows \(line 2\)"):
        meters.keys_for(PAN_A)
    raw = tmp_path / "latin.csv"
    raw.write_bytes(b"meter_number,lot\n47123456783,L\xe9\n")
    with pytest.raises(MetersFileError, match=r"latin.csv line 2: not UTF-8 text \(byte 30 "):
        load_meters(raw)
    with pytest.raises(MetersFileError, match=r"gone\.csv: cannot read"):
        load_meters(tmp_path / "gone.csv")
    with pytest.raises(MetersFileError, match=r"empty\.csv: no header line"):
        load_meters(_file(tmp_path, "\n# nothing\n", "empty.csv"))
    with pytest.raises(MetersFileError, match=r"ctl.csv line 2: lot 'L\\\\x1b\[2J' holds "
                                              r"control characters"):
        load_meters(_file(tmp_path, "meter_number,lot\n47123456783,L\x1b[2J\n", "ctl.csv"))
