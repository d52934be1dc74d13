"""Programmable AC sources: the bench's mains, which powers the meter."""

from __future__ import annotations

from typing import Any

from drivers.instruments.base import SafetyError, ScpiInstrument, scpi_property


class AcSource(ScpiInstrument):
    """Generic AC source (the emulated bench's command set)."""

    role = "source"
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
    """Chroma 61500/61600-series AC source (commands from the 61600 programming manual, as
    used by libsigrok's scpi-pps profile: ':SOUR:VOLT:AC', ':FETC:...')."""

    voltage = scpi_property(":SOUR:VOLT:AC?", ":SOUR:VOLT:AC {:.2f}", unit="V", low=0,
                            high=300, doc="Control the AC output voltage (V rms).")
    frequency = scpi_property(":SOUR:FREQ?", ":SOUR:FREQ {:.2f}", unit="Hz", low=15,
                              high=1000, doc="Control the output frequency (Hz).")
    _output_cmd = (":OUTP?", ":OUTP {}")
    _measure_cmds = (":FETC:VOLT:ACDC?", ":FETC:CURR:AC?", ":FETC:POW:AC?")
