"""The emulated instruments: AC source, AC electronic load, DMM and oscilloscope/timer.

They answer the generic SCPI command set of docs/CONTRACTS.md §3.5 (only commands some real
model has: the load's former LEAKage extension is gone, the earth-leak stimulus is a switch
channel, emulator/scpi/switch_models.py), and all of them act on, or measure, the one
`BenchModel`: the source feeds the meter, the meter's relay connects the
load, the DMM and the scope see the load terminals.
"""

from __future__ import annotations

from emulator.model import BenchModel
from emulator.scpi.server import ScpiDevice, ScpiError, boolean, choice, fmt, number

CHANNELS = {"CHAN1": "1", "CHANNEL1": "1", "CHAN2": "2", "CHANNEL2": "2", "1": "1", "2": "2"}


class AcSourceDevice(ScpiDevice):
    ROLE = "source"
    MODEL = "generic"
    DESIGNATION = "generic SCPI AC source (emulated bench)"
    idn = "STS-RIG,EMU-ACSOURCE,EMU0001,1.0"

    def __init__(self, model: BenchModel) -> None:
        super().__init__()
        self.model = model
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


class AcLoadDevice(ScpiDevice):
    ROLE = "load"
    MODEL = "generic"
    DESIGNATION = "generic SCPI AC electronic load (emulated bench)"
    idn = "STS-RIG,EMU-ACLOAD,EMU0002,1.0"

    def __init__(self, model: BenchModel) -> None:
        super().__init__()
        self.model = model
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


class DmmDevice(ScpiDevice):
    ROLE = "dmm"
    MODEL = "generic"
    DESIGNATION = "generic SCPI DMM (emulated bench)"
    idn = "STS-RIG,EMU-DMM,EMU0003,1.0"

    def __init__(self, model: BenchModel) -> None:
        super().__init__()
        self.model = model
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


class ScopeDevice(ScpiDevice):
    """Two channels: CHAN1 load voltage, CHAN2 the injector's ENTER sync line."""
    ROLE = "scope"
    MODEL = "generic"
    DESIGNATION = "generic SCPI oscilloscope/timer (emulated bench)"

    idn = "STS-RIG,EMU-SCOPE,EMU0004,1.0"

    def __init__(self, model: BenchModel) -> None:
        super().__init__()
        self.model = model
        self.reset()
        c = self.command
        c("TIMebase:SCALe", False, lambda a: self._set("scale", number(a, 1e-6, 50, "scale")))
        c("TIMebase:SCALe", True, lambda a: fmt(self.scale))
        c("TIMebase:POSition", False, lambda a: self._set("position",
                                                          number(a, -500, 500, "position")))
        c("TIMebase:POSition", True, lambda a: fmt(self.position))
        c("TRIGger:SOURce", False, lambda a: self._set("source", choice(a, CHANNELS, "source")))
        c("TRIGger:SOURce", True, lambda a: f"CHAN{self.source}")
        c("TRIGger:TYPE", False, lambda a: self._set("kind", choice(
            a, {"EDGE": "EDGE", "DROP": "DROP", "DROPOUT": "DROP"}, "type")))
        c("TRIGger:TYPE", True, lambda a: self.kind)
        c("TRIGger:SLOPe", False, lambda a: self._set("slope", choice(
            a, {"POS": "POS", "POSITIVE": "POS", "NEG": "NEG", "NEGATIVE": "NEG"}, "slope")))
        c("TRIGger:SLOPe", True, lambda a: self.slope)
        c("TRIGger:LEVel", False, lambda a: self._set("level", number(a, -1000, 1000, "level")))
        c("TRIGger:LEVel", True, lambda a: fmt(self.level))
        c("TRIGger:DROP:TIME", False, lambda a: self._set("drop_time",
                                                          number(a, 1e-6, 10, "drop time")))
        c("TRIGger:DROP:TIME", True, lambda a: fmt(self.drop_time))
        c("SINGle", False, lambda a: self._arm())
        c("TER", True, lambda a: "1" if self._triggered() is not None else "0")
        c("MEASure:DELay", True, lambda a: self._delay(a))
        c("MEASure:PWIDth", True, lambda a: self._pulse_width(a))
        c("WAVeform:SOURce", False, lambda a: self._set("wave_source",
                                                        choice(a, CHANNELS, "source")))
        c("WAVeform:SOURce", True, lambda a: f"CHAN{self.wave_source}")
        c("WAVeform:POINts", False, lambda a: self._set("points",
                                                        int(number(a, 2, 10000, "points"))))
        c("WAVeform:POINts", True, lambda a: str(self.points))
        c("WAVeform:PREamble", True, lambda a: self._preamble())
        c("WAVeform:DATA", True, lambda a: self._data())

    def reset(self) -> None:
        self.scale = 0.01
        self.position = 0.0
        self.source = "1"
        self.kind = "EDGE"
        self.slope = "POS"
        self.level = 50.0
        self.drop_time = 0.05
        self.wave_source = "1"
        self.points = 1000
        self.armed_at: float | None = None
        self.trigger_t: float | None = None

    def _set(self, name: str, value: object) -> None:
        setattr(self, name, value)

    def _arm(self) -> None:
        self.armed_at = self.model.clock.now()
        self.trigger_t = None

    def _triggered(self) -> float | None:
        if self.trigger_t is None and self.armed_at is not None:
            self.trigger_t = self.model.find_trigger(
                self.armed_at, channel=int(self.source), kind=self.kind, slope=self.slope,
                level=self.level, drop_time=self.drop_time)
        return self.trigger_t

    def _need_trigger(self) -> float:
        t = self._triggered()
        if t is None:
            raise ScpiError(-230, "Data corrupt or stale: not triggered")
        return t

    def _delay(self, args: list[str]) -> str:
        if len(args) != 2:
            raise ScpiError(-109, "Missing parameter: MEAS:DEL? needs two channels")
        start = CHANNELS.get(args[0].upper())
        if start is None or CHANNELS.get(args[1].upper()) is None:
            raise ScpiError(-224, "Illegal parameter value: channel")
        t = self._need_trigger()
        edge = self.model.last_rising_edge(int(start), t)
        if edge is None:
            raise ScpiError(-230, f"Data corrupt or stale: no edge on CHAN{start}")
        return fmt(t - edge)

    def _pulse_width(self, args: list[str]) -> str:
        """+width of the last complete pulse on a channel before the trigger point (the
        ENTER sync pulse on CHAN2: how long the key was really held)."""
        if len(args) != 1 or CHANNELS.get(args[0].upper()) is None:
            raise ScpiError(-224, "Illegal parameter value: MEAS:PWID? needs one channel")
        width = self.model.last_pulse_width(int(CHANNELS[args[0].upper()]),
                                            self._need_trigger())
        if width is None:
            raise ScpiError(-230, f"Data corrupt or stale: no pulse on {args[0].upper()}")
        return fmt(width)

    def _window(self) -> tuple[float, float]:
        """(x_origin, x_increment): the trigger sits at the screen centre minus :TIM:POS,
        the screen spans 10 divisions."""
        span = 10.0 * self.scale
        return self.position - span / 2.0, span / (self.points - 1)

    def _preamble(self) -> str:
        origin, step = self._window()
        return f"{self.points},{fmt(step)},{fmt(origin)}"

    def _data(self) -> str:
        t0 = self._need_trigger()
        origin, step = self._window()
        ch = int(self.wave_source)
        values = [self.model.sample(ch, t0 + origin + i * step) for i in range(self.points)]
        return ",".join(f"{v:.3f}" for v in values)
