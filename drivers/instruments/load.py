"""AC electronic loads: the appliance the meter's relay connects."""

from __future__ import annotations

from drivers.instruments.base import ScpiInstrument, scpi_property


class AcLoad(ScpiInstrument):
    """Generic AC electronic load (the emulated bench's command set)."""

    role = "load"
    mode = scpi_property("MODE?", "MODE {}", choices=("CURR", "POW"), cast=str.strip,
                         doc="Control the regulation mode: constant current or power.")
    current = scpi_property("CURR?", "CURR {:.4f}", unit="A", low=0, high=60,
                            doc="Control the current set point (A rms).")
    power = scpi_property("POW?", "POW {:.2f}", unit="W", low=0, high=15000,
                          doc="Control the power set point (W).")
    leakage = scpi_property("LEAK?", "LEAK {:.4f}", unit="A", low=0, high=5,
                            doc="Control a live-to-earth leakage current (tamper stimulus; "
                                "emulated bench extension).")
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
    """Chroma 63800-series AC/DC load (63804): the sequence that works in AC mode is
    MODE ACF (crest-factor mode), CFAC, PFAC, CURR, LOAD ON (see the bench notes)."""

    mode = scpi_property("MODE?", "MODE {}", choices=("CURR", "POW", "ACF", "ACP"),
                         cast=str.strip, doc="Control the load mode.")
    current = scpi_property("CURR?", "CURR {:.3f}", unit="A", low=0, high=36,
                            doc="Control the current (A rms).")
    power = scpi_property("POW?", "POW {:.1f}", unit="W", low=0, high=4500,
                          doc="Control the power (W).")
    leakage = None  # type: ignore[assignment]

    def draw_current(self, amps: float) -> None:
        self.write("MODE ACF")
        self.write("CFAC 1.414")
        self.write("PFAC 1.0")
        self.current = amps
        self.on = True

    def draw_power(self, watts: float) -> None:
        self.write("MODE ACP")
        self.power = watts
        self.on = True

    def safe_state(self) -> None:
        self.write("LOAD OFF")
        self.write("CURR 0")
