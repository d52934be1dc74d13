"""Keithley DMM6500 6.5-digit bench DMM in its SCPI command set (DMM6500 Reference Manual,
SCPI command reference; the instrument must be set to the SCPI command set, not TSP).

Functions are chosen with `:SENSe:FUNCtion "VOLTage:AC"` (a quoted string), ranges with
`:SENSe:VOLTage:AC:RANGe` / `:SENSe:CURRent:AC:RANGe`, and `:READ?` makes a reading of the
selected function. AC volts go to 750 V on the top range; AC current has a 10 A range on the
front-panel terminals only (`:ROUTe:TERMinals?` answers FRON or REAR, set by the front-panel
switch, which no command changes), so the driver checks the terminals before it asks for it.
"""

from __future__ import annotations

from typing import ClassVar

from drivers.instruments.accuracy import NOT_REREAD, Accuracy, Specification
from drivers.instruments.base import InstrumentError
from drivers.instruments.dmm import RangedDmm

__all__ = ["KeithleyDmm6500"]


class KeithleyDmm6500(RangedDmm):
    """Keithley DMM6500 (SCPI command set)."""

    MODEL = "keithley-dmm6500"
    DESIGNATION = "Keithley DMM6500 6.5-digit bench/system DMM"
    # Keithley DMM6500 data sheet (tek.com, 1KW-61209): "AC Voltage" and "AC Current"
    # accuracy tables, ±(% of reading + % of range), 1 year, TCAL ±5 °C.
    ACCURACY: ClassVar[Accuracy] = {
        # AC volts, 750 V range, 40 Hz - 10 kHz: 0.06 % of reading + 0.03 % of range
        "ac_voltage": Specification(0.06, 0.03, (0.1, 1.0, 10.0, 100.0, 750.0),
                                    source="Keithley DMM6500 data sheet, AC voltage "
                                           "accuracy, 750 V range, 40 Hz-10 kHz, 1 year",
                                    fixed_range=750.0, note=NOT_REREAD),
        # AC current, 10 A range, 3 Hz - 1 kHz: 0.40 % of reading + 0.06 % of range
        "ac_current": Specification(0.40, 0.06, (0.0001, 0.001, 0.01, 0.1, 1.0, 3.0, 10.0),
                                    source="Keithley DMM6500 data sheet, p. 13, AC Current "
                                           "Accuracy table, 10 A range, 3 Hz-1 kHz, 1 year",
                                    fixed_range=10.0,
                                    note="verified (issue 20 review) in the DMM6500 data "
                                         "sheet, p. 13: 10 A, 3 Hz-1 kHz, 1 year, TCAL "
                                         "±5 °C: 0.40 + 0.06"),
    }

    def configure_voltage_ac(self) -> None:
        self.configure(':SENSe:FUNCtion "VOLTage:AC"',
                       f":SENSe:VOLTage:AC:RANGe {self.AC_VOLT_RANGE:g}")

    def configure_current_ac(self) -> None:
        terminals = self.query(":ROUTe:TERMinals?").strip().upper()
        if terminals != "FRON":
            raise InstrumentError(f"{self._where()}: the 10 A range is on the front terminals "
                                  f"and the terminal switch is at {terminals!r}; set it to "
                                  "FRONT")
        self.configure(':SENSe:FUNCtion "CURRent:AC"',
                       f":SENSe:CURRent:AC:RANGe {self.AC_CURRENT_RANGE:g}")

    def read(self) -> float:
        return self.query_number(":READ?")
