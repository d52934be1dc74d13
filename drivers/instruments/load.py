"""AC electronic loads: the appliance the meter's relay connects."""

from __future__ import annotations

from typing import ClassVar

from drivers.instruments.accuracy import NOT_REREAD, Accuracy, Specification
from drivers.instruments.base import ScpiInstrument, scpi_property
from drivers.instruments.nominal import NOMINAL


class AcLoad(ScpiInstrument):
    """Generic AC electronic load (the emulated bench's command set)."""

    ROLE = "load"
    MODEL = "generic"
    DESIGNATION = "generic SCPI AC electronic load (emulated bench)"
    ACCURACY: ClassVar[Accuracy] = {f: NOMINAL[f] for f in ("ac_voltage", "ac_current", "power")}
    mode = scpi_property("MODE?", "MODE {}", choices=("CURR", "POW"), cast=str.strip,
                         doc="Control the regulation mode: constant current or power.")
    current = scpi_property("CURR?", "CURR {:.4f}", unit="A", low=0, high=60,
                            doc="Control the current set point (A rms).")
    power = scpi_property("POW?", "POW {:.2f}", unit="W", low=0, high=15000,
                          doc="Control the power set point (W).")
    _on_cmd = ("LOAD?", "LOAD {}")
    _measure_cmds = ("MEAS:VOLT?", "MEAS:CURR?", "MEAS:POW?")

    @property
    def on(self) -> bool:
        """Control whether the load sinks current."""
        return self.query_bool(self._on_cmd[0])

    @on.setter
    def on(self, value: bool) -> None:
        self.write(self._on_cmd[1].format("ON" if value else "OFF"))

    def draw_power(self, watts: float) -> None:
        """Constant-power load switched on."""
        self.mode = "POW"
        self.power = watts
        self.on = True

    def draw_current(self, amps: float) -> None:
        """Constant-current load switched on."""
        self.mode = "CURR"
        self.current = amps
        self.on = True

    def measure_voltage(self) -> float:
        return self.query_number(self._measure_cmds[0])

    def measure_current(self) -> float:
        return self.query_number(self._measure_cmds[1])

    def measure_power(self) -> float:
        return self.query_number(self._measure_cmds[2])

    def safe_state(self) -> None:
        self.write(self._on_cmd[1].format("OFF"))


class Chroma63800(AcLoad):
    """Chroma 63800 series AC/DC load ("Programmable AC/DC Electronic Load 63800 Series
    Operation & Programming Manual", ch. 8): `[LOAD:]MODE` CURR|POW (the manual's modes;
    constant current and constant power are the ones the rig uses), `CURR`, `POW`,
    `CURR:PEAK:MAX` (set at bring-up to the model's rated peak, from *IDN?), `LOAD ON|OFF`,
    `MEAS:VOLT?|CURR?|POW?`."""

    MODEL = "chroma-63800"
    DESIGNATION = "Chroma 63802/63803/63804 (63800 series)"
    #: rated peak current per model (63800 series data sheet, Key Features: up to 54 A for
    #: the 63802 and 135 A for the 63804; three times the rated rms current)
    RATED_PEAK: ClassVar[dict[str, float]] = {"63802": 54.0, "63803": 108.0, "63804": 135.0}
    # Chroma "Programmable AC/DC Electronic Load Model 63800 Series" data sheet, table
    # "Specifications", section MEASUREMENT (63803: 150 V / 350 V, 9 A / 36 A, 3600 W):
    # voltage 0.1 % + 0.1 % F.S., current 0.1 % + 0.2 % F.S., power 0.3 % + 0.3 % F.S.
    ACCURACY: ClassVar[Accuracy] = {
        "ac_voltage": Specification(
            0.1, 0.1, (150.0, 350.0),
            source="Chroma 63800 Series data sheet, Specifications, Measurement: Voltage",
            note=NOT_REREAD),
        "ac_current": Specification(
            0.1, 0.2, (9.0, 36.0),
            source="Chroma 63800 Series data sheet, Specifications, Measurement: Current",
            note=NOT_REREAD),
        "power": Specification(
            0.3, 0.3, (1800.0, 3600.0),
            source="Chroma 63800 Series data sheet, Specifications, Measurement: Power",
            note=NOT_REREAD),
    }

    mode = scpi_property("MODE?", "MODE {}", choices=("CURR", "POW"), cast=str.strip,
                         doc="Control the load mode: constant current or constant power.")
    current = scpi_property("CURR?", "CURR {:.3f}", unit="A", low=0, high=45,
                            doc="Control the current (A rms).")
    power = scpi_property("POW?", "POW {:.1f}", unit="W", low=0, high=4500,
                          doc="Control the power (W).")

    def bring_up(self) -> None:
        peak = self.RATED_PEAK.get(self.identity.model.strip(), 54.0)
        self.configure(f"CURR:PEAK:MAX {peak:.2f}")

    def safe_state(self) -> None:
        self.write("LOAD OFF")


class ItechIT8600(AcLoad):
    """ITECH IT8600 series AC/DC load ("Programmable AC/DC Electronic Load Programming
    Guide for IT8600 Series", IT8600-402266): `FUNC CURR|POW`, `CURR`, `POW`, `INP ON|OFF`,
    `MEAS:VOLT?|CURR?|POW?`."""

    MODEL = "itech-it8600"
    DESIGNATION = "ITECH IT8615/IT8616/IT8617 (IT8600 series)"
    # No measurement accuracy is declared, and none is written that the maker does not
    # state: the IT8600 data sheet's and user manual's specification tables could not be
    # found (searched again for issue 20: the stored IT8600 User Manual and Programming
    # Guide pages carry no accuracy table, nor do those of the Kikusui PCZ1000A, NH Research
    # 9430 or Prodigit AC loads that could replace it). A value read on this load gets no
    # instrument uncertainty (UnknownSpecification names it): a bench with this load takes
    # its power reference from a power meter (rig/bench/capabilities.py energy_meter).
    ACCURACY: ClassVar[Accuracy] = {}

    mode = scpi_property("FUNC?", "FUNC {}", choices=("CURR", "POW"), cast=str.strip,
                         doc="Control the load function: constant current or power.")
    current = scpi_property("CURR?", "CURR {:.2f}", unit="A", low=0, high=20,
                            doc="Control the current (A rms).")
    power = scpi_property("POW?", "POW {:.0f}", unit="W", low=0, high=1800,
                          doc="Control the power (W).")
    _on_cmd = ("INP?", "INP {}")
