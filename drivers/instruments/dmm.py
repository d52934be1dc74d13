"""Digital multimeters: AC voltage and current at the load terminals."""

from __future__ import annotations

from typing import ClassVar

from drivers.instruments.accuracy import NOT_REREAD, Accuracy, Specification
from drivers.instruments.base import ScpiInstrument
from drivers.instruments.nominal import NOMINAL


class Dmm(ScpiInstrument):
    """Generic DMM (the emulated bench's command set; Keysight Truevolt syntax)."""

    ROLE = "dmm"
    MODEL = "generic"
    DESIGNATION = "generic SCPI DMM (emulated bench)"
    ACCURACY: ClassVar[Accuracy] = {f: NOMINAL[f] for f in ("ac_voltage", "ac_current")}

    def measure_voltage_ac(self) -> float:
        """Measure AC voltage (V rms)."""
        return self.query_number("MEAS:VOLT:AC?")

    def measure_current_ac(self) -> float:
        """Measure AC current (A rms)."""
        return self.query_number("MEAS:CURR:AC?")

    def configure_voltage_ac(self) -> None:
        self.write("CONF:VOLT:AC")

    def configure_current_ac(self) -> None:
        self.write("CONF:CURR:AC")

    def read(self) -> float:
        """Trigger and read the configured function."""
        return self.query_number("READ?")


class RangedDmm(Dmm):
    """A real DMM measured as its manual has it: the function configured on a fixed range
    (`AC_VOLT_RANGE`, `AC_CURRENT_RANGE`: the ranges its accuracy table is cited for), the
    error queue read after the configuration, then one reading of that function."""

    AC_VOLT_RANGE = 750.0
    AC_CURRENT_RANGE = 10.0

    def measure_voltage_ac(self) -> float:
        self.configure_voltage_ac()
        return self.read()

    def measure_current_ac(self) -> float:
        self.configure_current_ac()
        return self.read()


class Keysight34461A(RangedDmm):
    """Keysight 34461A Truevolt DMM (commands from the Truevolt Series Operating and Service
    Guide): AC volts on the 750 V range (its top AC range; 1000 V is DC only), AC current on
    the 10 A terminals. CONFigure then READ?, so a refused range is named by the error queue
    before a reading is asked for. `[SENSe:]CURRent:AC:RANGe` cannot select 10 A; the 10 A
    terminals are selected with `[SENSe:]CURRent:AC:TERMinals 10` (CONFigure with 10 A also
    selects them); the 3 A terminals stay the default after *RST."""

    MODEL = "keysight-34461a"
    DESIGNATION = "Keysight 34461A Truevolt 6.5-digit DMM"
    # Keysight 34461A Truevolt DMM data sheet (5991-1983EN), "AC characteristics", 1 year,
    # 23 °C ± 5 °C.
    ACCURACY: ClassVar[Accuracy] = {
        # AC volts, true rms, 10 Hz to 20 kHz: 0.06 % of reading + 0.03 % of range,
        # ranges 100 mV..750 V; the driver selects the 750 V range.
        "ac_voltage": Specification(0.06, 0.03, (0.1, 1.0, 10.0, 100.0, 750.0),
                                    source="Keysight 34461A data sheet 5991-1983EN, AC "
                                           "characteristics: true rms AC voltage, "
                                           "10 Hz-20 kHz, 1 year",
                                    fixed_range=750.0, note=NOT_REREAD),
        # AC current, 10 A range (10 A terminals), 3 Hz to 5 kHz: 0.15 % of reading +
        # 0.06 % of range; the driver measures on the 10 A terminals.
        "ac_current": Specification(0.15, 0.06, (0.0001, 0.001, 0.01, 0.1, 1.0, 3.0, 10.0),
                                    source="Keysight 34461A data sheet 5991-1983EN, AC "
                                           "characteristics: true rms AC current, 10 A "
                                           "range, 3 Hz-5 kHz, 1 year",
                                    fixed_range=10.0, note=NOT_REREAD),
    }

    def configure_voltage_ac(self) -> None:
        self.configure(f"CONF:VOLT:AC {self.AC_VOLT_RANGE:g}")

    def configure_current_ac(self) -> None:
        self.configure(f"SENS:CURR:AC:TERM {self.AC_CURRENT_RANGE:g}",
                       f"CONF:CURR:AC {self.AC_CURRENT_RANGE:g}")
