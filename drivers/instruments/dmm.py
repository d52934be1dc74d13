"""Digital multimeters: AC voltage and current at the load terminals."""

from __future__ import annotations

from drivers.instruments.base import ScpiInstrument


class Dmm(ScpiInstrument):
    """Generic DMM (the emulated bench's command set; Keysight Truevolt syntax)."""

    role = "dmm"

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


class Keysight34461A(Dmm):
    """Keysight 34461A Truevolt DMM: explicit ranges (1000 V AC, 10 A AC terminals)."""

    def measure_voltage_ac(self) -> float:
        return self.query_number("MEAS:VOLT:AC? 1000")

    def measure_current_ac(self) -> float:
        return self.query_number("MEAS:CURR:AC? 10")

    def configure_voltage_ac(self) -> None:
        self.write("CONF:VOLT:AC 1000")

    def configure_current_ac(self) -> None:
        self.write("CONF:CURR:AC 10")
