"""Programmable AC sources: the bench's mains, which powers the meter.

`AcSource` is the emulated bench's generic command set; the model classes below are written
from their makers' programming manuals (emulator/scpi/source_models.py answers the same
sets) and carry their datasheets' measurement accuracy.
"""

from __future__ import annotations

from typing import Any, ClassVar

from drivers.instruments.accuracy import NOT_REREAD, Accuracy, Specification
from drivers.instruments.answers import Identity, parse_idn
from drivers.instruments.base import SafetyError, ScpiInstrument, scpi_property
from drivers.instruments.nominal import NOMINAL


class AcSource(ScpiInstrument):
    """Generic AC source (the emulated bench's command set)."""

    ROLE = "source"
    MODEL = "generic"
    DESIGNATION = "generic SCPI AC source (emulated bench)"
    ACCURACY: ClassVar[Accuracy] = {f: NOMINAL[f] for f in ("ac_voltage", "ac_current", "power")}
    voltage = scpi_property("SOUR:VOLT?", "SOUR:VOLT {:.3f}", unit="V", low=0, high=300,
                            doc="Control the output voltage (V rms).")
    frequency = scpi_property("SOUR:FREQ?", "SOUR:FREQ {:.3f}", unit="Hz", low=45, high=65,
                              doc="Control the output frequency (Hz).")
    _output_cmd = ("OUTP?", "OUTP {}")
    _measure_cmds = ("MEAS:VOLT?", "MEAS:CURR?", "MEAS:POW?")

    def __init__(self, resource: str, *, terminals_open: bool = False, **kw: Any) -> None:
        self.terminals_open = terminals_open
        super().__init__(resource, **kw)

    @property
    def output(self) -> bool:
        """Control the output relay: the meter is powered while it is on."""
        return self.query_bool(self._output_cmd[0])

    @output.setter
    def output(self, on: bool) -> None:
        if on and self.terminals_open:
            raise SafetyError("AC source output refused: the bench config says the meter's "
                              "terminals are open for wiring ([safety] terminals_open = true)")
        self.write(self._output_cmd[1].format("ON" if on else "OFF"))

    def measure_voltage(self) -> float:
        """Measure the output voltage (V rms)."""
        return self.query_number(self._measure_cmds[0])

    def measure_current(self) -> float:
        """Measure the output current (A rms)."""
        return self.query_number(self._measure_cmds[1])

    def measure_power(self) -> float:
        """Measure the output active power (W)."""
        return self.query_number(self._measure_cmds[2])

    def safe_state(self) -> None:
        self.write(self._output_cmd[1].format("OFF"))


class Chroma61500(AcSource):
    """Chroma 61500 series AC source ("Programmable AC Source 61501/61502/61503/61504
    User's Manual", ch. 8): the 300 V range (`VOLT:RANG HIGH`) at bring-up, so any mains
    voltage can be set (7.5: a voltage above the selected range is out of range),
    `:SOUR:VOLT:AC`, `:SOUR:FREQ`, `:OUTP`, `:FETC:...` measurements."""

    MODEL = "chroma-61500"
    DESIGNATION = "Chroma 61501/61502/61503/61504/61505 (61500 series)"
    # Chroma "Programmable AC Source Model 61500/61600 Series" data sheet, table
    # "Specifications", section MEASUREMENT (61501..61505): voltage range 150 V / 300 V,
    # accuracy 0.2 % + 0.2 % F.S.; current accuracy 0.4 % + 0.3 % F.S. (61502 ranges 4 A /
    # 16 A peak-limited model ranges as used here); power accuracy 0.4 % + 0.4 % F.S.
    ACCURACY: ClassVar[Accuracy] = {
        "ac_voltage": Specification(
            0.2, 0.2, (150.0, 300.0), fixed_range=300.0,
            source="Chroma 61500/61600 Series data sheet, Specifications, Measurement: "
                   "Voltage", note=NOT_REREAD),
        "ac_current": Specification(
            0.4, 0.3, (4.0, 16.0),
            source="Chroma 61500/61600 Series data sheet, Specifications, Measurement: "
                   "Current", note=NOT_REREAD),
        "power": Specification(
            0.4, 0.4, (1000.0, 4000.0),
            source="Chroma 61500/61600 Series data sheet, Specifications, Measurement: "
                   "Power", note=NOT_REREAD),
    }

    voltage = scpi_property(":SOUR:VOLT:AC?", ":SOUR:VOLT:AC {:.1f}", unit="V", low=0,
                            high=300, doc="Control the AC output voltage (V rms).")
    frequency = scpi_property(":SOUR:FREQ?", ":SOUR:FREQ {:.2f}", unit="Hz", low=15,
                              high=1000, doc="Control the output frequency (Hz).")
    _output_cmd = (":OUTP?", ":OUTP {}")
    _measure_cmds = (":FETC:VOLT:ACDC?", ":FETC:CURR:AC?", ":FETC:POW:AC?")

    def bring_up(self) -> None:
        self.configure(":SOUR:VOLT:RANG HIGH")

    @staticmethod
    def parse_identity(command: str, text: str) -> Identity:
        """The manual's form `Chroma ATE 61500,<serial>,<display>,<waveform>,<remote>`: the
        company and the model share the first field; other forms as IEEE 488.2's."""
        identity = parse_idn(command, text)  # checks the fields
        fields = [f.strip() for f in text.split(",")]
        maker, _, model = fields[0].rpartition(" ")
        if len(fields) == 5 and maker and model[:1].isdigit():
            return Identity(maker, model, fields[1], ",".join(fields[2:]))
        return identity


class KeysightAC6800B(AcSource):
    """Keysight AC6800B series basic AC source ("Keysight AC6800B Series Operating and
    Service Guide", ch. 3): the 310 V range at bring-up (`VOLT:RANG 310`; on the 155 V range
    a mains voltage is out of range), `VOLT`, `FREQ`, `OUTP`, `MEAS:...:AC?`."""

    MODEL = "keysight-ac6800b"
    DESIGNATION = "Keysight AC6801B/AC6802B/AC6803B/AC6804B (AC6800B series)"
    # Keysight "AC6800B Series Basic AC Power Sources - Data Sheet", p. 7, table
    # "Specifications continued", Measurements (155 V/310 V range), 45 to 65 Hz, for the
    # AC6802B on its 310 V range: voltage ±(0.5 % of reading + 0.7 V); current ±(0.5 % of
    # reading + 0.02 A) (4 A rms on that range); AC power ±(2 % of reading + 1 W). The
    # absolute terms are written as % of the range they are stated for (0.7 V of 310 V,
    # 0.02 A of 4 A, 1 W of 1000 W).
    ACCURACY: ClassVar[Accuracy] = {
        "ac_voltage": Specification(
            0.5, 100 * 0.7 / 310, (310.0,), fixed_range=310.0,
            source="Keysight AC6800B Series data sheet, Specifications, Measurements: "
                   "Voltage accuracy (45-65 Hz, 310 V range)"),
        "ac_current": Specification(
            0.5, 100 * 0.02 / 4, (4.0,), fixed_range=4.0,
            source="Keysight AC6800B Series data sheet, Specifications, Measurements: "
                   "Current accuracy, AC6802B (45-65 Hz, 310 V range)"),
        "power": Specification(
            2.0, 100 * 1.0 / 1000, (1000.0,), fixed_range=1000.0,
            source="Keysight AC6800B Series data sheet, Specifications, Measurements: "
                   "AC power accuracy, AC6802B (45-65 Hz)"),
    }

    voltage = scpi_property("VOLT?", "VOLT {:.2f}", unit="V", low=0, high=310,
                            doc="Control the AC output voltage (V rms).")
    frequency = scpi_property("FREQ?", "FREQ {:.2f}", unit="Hz", low=40, high=500,
                              doc="Control the output frequency (Hz).")
    _output_cmd = ("OUTP?", "OUTP {}")
    _measure_cmds = ("MEAS:VOLT:AC?", "MEAS:CURR:AC?", "MEAS:POW:AC?")

    def bring_up(self) -> None:
        self.configure("VOLT:RANG 310")
