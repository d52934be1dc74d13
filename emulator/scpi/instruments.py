"""The emulated instruments: AC source, AC electronic load, DMM and oscilloscope/timer.

They answer the generic SCPI command set of docs/CONTRACTS.md §3.5 (only commands some real
model has: the load's former LEAKage extension is gone, the earth-leak stimulus is a switch
channel, emulator/scpi/switch_models.py; the scope speaks the Keysight InfiniiVision set),
and all of them act on, or measure, the one
`BenchModel`: the source feeds the meter, the meter's relay connects the
load, the DMM and the scope see the load terminals.
"""

from __future__ import annotations

from emulator.model import BenchModel
from emulator.scpi.scope_keysight import InfiniiVisionDevice
from emulator.scpi.server import BenchDevice, ScpiDevice, boolean, choice, fmt, number


class AcSourceDevice(BenchDevice):
    ROLE = "source"
    MODEL = "generic"
    DESIGNATION = "generic SCPI AC source (emulated bench)"
    idn = "STS-RIG,EMU-ACSOURCE,EMU0001,1.0"

    def __init__(self, model: BenchModel) -> None:
        super().__init__(model)
        m = model
        self.command("SOURce:VOLTage", False,
                     lambda a: m.set_source(voltage=number(a, 0, 300, "voltage")))
        self.command("SOURce:VOLTage", True, lambda a: fmt(m.source().voltage))
        self.command("SOURce:FREQuency", False,
                     lambda a: m.set_source(frequency=number(a, 45, 65, "frequency")))
        self.command("SOURce:FREQuency", True, lambda a: fmt(m.source().frequency))
        self.command("OUTPut", False, lambda a: m.set_source(output=boolean(a, "output")))
        self.command("OUTPut", True, lambda a: "1" if m.source().output else "0")
        self.command("MEASure:VOLTage", True, lambda a: fmt(m.measure().source_v))
        self.command("MEASure:CURRent", True, lambda a: fmt(m.measure().source_i))
        self.command("MEASure:POWer", True, lambda a: fmt(m.measure().source_p))

    def reset(self) -> None:
        r = self.model.profile.ratings
        self.model.set_source(output=False, voltage=r.voltage_v, frequency=r.frequency_hz)


class AcLoadDevice(BenchDevice):
    ROLE = "load"
    MODEL = "generic"
    DESIGNATION = "generic SCPI AC electronic load (emulated bench)"
    idn = "STS-RIG,EMU-ACLOAD,EMU0002,1.0"

    def __init__(self, model: BenchModel) -> None:
        super().__init__(model)
        m = model
        modes = {"CURR": "CURR", "CURRENT": "CURR", "POW": "POW", "POWER": "POW"}
        self.command("MODE", False, lambda a: m.set_load(mode=choice(a, modes, "mode")))
        self.command("MODE", True, lambda a: m.load().mode)
        self.command("CURRent", False, lambda a: m.set_load(current=number(a, 0, 60, "current")))
        self.command("CURRent", True, lambda a: fmt(m.load().current))
        self.command("POWer", False, lambda a: m.set_load(power=number(a, 0, 15000, "power")))
        self.command("POWer", True, lambda a: fmt(m.load().power))
        self.command("LOAD", False, lambda a: m.set_load(on=boolean(a, "load")))
        self.command("LOAD", True, lambda a: "1" if m.load().on else "0")
        self.command("MEASure:VOLTage", True, lambda a: fmt(m.measure().load_v))
        self.command("MEASure:CURRent", True, lambda a: fmt(m.measure().load_i))
        self.command("MEASure:POWer", True, lambda a: fmt(m.measure().load_p))

    def reset(self) -> None:
        self.model.set_load(mode="CURR", current=0.0, power=0.0, on=False, leak=0.0)


class DmmDevice(BenchDevice):
    ROLE = "dmm"
    MODEL = "generic"
    DESIGNATION = "generic SCPI DMM (emulated bench)"
    idn = "STS-RIG,EMU-DMM,EMU0003,1.0"

    def __init__(self, model: BenchModel) -> None:
        super().__init__(model)
        self.function = "VOLT"
        m = model
        self.command("MEASure:VOLTage:AC", True, lambda a: fmt(m.measure().load_v))
        self.command("MEASure:CURRent:AC", True, lambda a: fmt(m.measure().load_i))
        self.command("CONFigure:VOLTage:AC", False, lambda a: self._conf("VOLT"))
        self.command("CONFigure:CURRent:AC", False, lambda a: self._conf("CURR"))
        self.command("CONFigure", True, lambda a: f'"{self.function}:AC"')
        self.command("READ", True, lambda a: self._read())

    def _conf(self, function: str) -> None:
        self.function = function

    def _read(self) -> str:
        meas = self.model.measure()
        return fmt(meas.load_v if self.function == "VOLT" else meas.load_i)

    def reset(self) -> None:
        self.function = "VOLT"


class ScopeDevice(InfiniiVisionDevice):
    """Two channels: CHAN1 load voltage, CHAN2 the injector's ENTER sync line. The generic
    scope speaks the Keysight InfiniiVision command set (scope_keysight.py: its edge and
    pattern-timeout triggers, :TER?, :MEASure:DELay?/PWIDth?, the 10-field preamble and the
    definite-length block), under its own identity and with the generic error queue."""
    ROLE = "scope"
    MODEL = "generic"
    DESIGNATION = "generic SCPI oscilloscope/timer (emulated bench; InfiniiVision commands)"
    idn = "STS-RIG,EMU-SCOPE,EMU0004,1.0"
    NO_ERROR = ScpiDevice.NO_ERROR
    TERSE_ERRORS = False
    error_entry = ScpiDevice.error_entry
