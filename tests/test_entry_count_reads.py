"""The entry counter tells an entry's result in (rig.meter.sources.register_source): an entry
that follows a judged one starts from the count that entry left, without reading it again,
until a key with ENTER or the supply moves it. Over the real wire, against the emulator."""

from __future__ import annotations

from meterprofile import load_profile
from rig.bench.config import load_bench
from rig.bench.devices import open_bench
from rig.meter.under_test import MeterUnderTest


def test_an_entry_starts_from_the_count_the_last_one_left(tmp_path, start_emulator):
    emu = start_emulator()
    path = tmp_path / "bench.toml"
    path.write_text(f"""
[bench]
name = "entry count"
speed = 200
[meter]
pan = "600727471234567834"
optical = "{emu.optical}"
[keypad]
port = "{emu.keypad}"
[instruments.source]
resource = "{emu.instruments['source']}"
""")
    with open_bench(load_bench(path)) as bench:
        dut = MeterUnderTest(bench, load_profile("pln_default"))
        read_fact = dut.fact
        counts: list[int] = []

        def counting(name: str):
            value = read_fact(name)
            if name == "entry_count":
                counts.append(int(value))
            return value

        dut.fact = counting  # every read of the dut and of its fact sources comes here
        assert dut.code("41").accepted
        first = list(counts)
        assert len(first) == 2 and first[1] == first[0] + 1  # read before and after
        counts.clear()
        assert dut.code("41").accepted
        assert counts == [first[1] + 1]  # after only: the last entry left first[1]
        counts.clear()
        dut.keys("4")  # an entry begun without its ENTER notes the count it starts from
        assert counts == []  # known: no read
        assert dut.entry("1#", code=True).accepted
        assert counts == [first[1] + 2]
        counts.clear()
        dut.supply(False)
        dut.wait(2.0)
        dut.supply(True)
        dut.wait(1.0)
        assert dut.code("41").accepted
        assert len(counts) == 2  # after the supply moved: read again before the entry
