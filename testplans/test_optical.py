"""Optical port (IEC 62056-21 mode C): identification, readout with a correct BCC, registers."""

import pytest

IEC21 = "IEC 62056-21:2002 6.3"
NEEDED = ["C.1.0", "1.8.0", "32.7.0", "31.7.0", "1.7.0", "C.50.0", "C.51.0", "C.51.1",
          "C.51.2", "C.52.0", "C.52.2", "C.53.0", "C.53.3", "C.54.0", "C.55.0", "C.56.0",
          "C.58.0"]


@pytest.mark.clause(f"{IEC21}.2 identification message")
def test_identification(optical, bench_config, record):
    ident = optical.identify()
    record("manufacturer id", ident.manufacturer, nominal=ident.manufacturer)
    record("baud rate character is a mode C rate", int(ident.baud_char in "0123456"),
           nominal=1)
    record("mode E (binary) not offered", int(not ident.mode_e), nominal=1)
    number = optical.read("C.1.0").value
    record("meter number = DRN of the bench PAN", number, nominal=bench_config.meter.pan[6:17])


@pytest.mark.clause(f"{IEC21}.5 data readout", "IEC 62056-21:2002 6.4 block check character")
@pytest.mark.faults("bad-bcc")
def test_readout_bcc_and_registers(optical, record):
    registers = {r.obis: r for r in optical.readout()}  # BCC checked by the driver
    record("registers in readout", len(registers), low=len(NEEDED))
    missing = [a for a in NEEDED if a not in registers]
    record("registers the plans rely on, missing", len(missing), nominal=0)
    assert not missing, f"readout lacks {missing}"
    record("energy unit", registers["1.8.0"].unit, nominal="kWh")
    record("credit unit", registers["C.50.0"].unit, nominal="kWh")
    record("no key in the readout", int(not any("key" in r.obis.lower() for r in
                                                registers.values())), nominal=1)
