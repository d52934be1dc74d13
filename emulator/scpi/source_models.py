"""Emulated AC sources of real models, each answering its programming manual's command set.

- Chroma 61500 series (61501..61505): "Programmable AC Source 61501/61502/61503/61504
  User's Manual", ch. 8 Remote Operation: 8.6.1 common commands (*IDN? answers five fields,
  e.g. `Chroma ATE 61500,123456,1.00,1.01,1.02`: company and model, serial, firmware of
  display, waveform and remote), 8.6.2.3 SOURCE sub-system (`[SOURce:]VOLTage[:LEVel]
  [:IMMediate][:AMPLitude]:AC`, `VOLTage:RANGe`, `[SOURce:]FREQuency[:{CW|IMMediate}]`),
  OUTPut sub-system, 8.6.2.1 FETCh|MEASure (`[:SCALar]:VOLTage:ACDC?`, `:CURRent:AC?`,
  `:POWer:AC[:REAL]?`), answers <NR2>. A voltage above the selected range (150 V / 300 V) is
  "data out of range" (7.5 / 8.5 coupled commands: VOLT:RANG before VOLT).
- Keysight AC6800B series (AC6801B..AC6804B): "Keysight AC6800B Series Operating and
  Service Guide", ch. 3 SCPI Programming Reference: VOLTage subsystem
  (`[SOURce:]VOLTage[:LEVel][:IMMediate][:AMPLitude]`, `VOLTage:RANGe`; the B series' ranges
  are 155 V and 310 V, data sheet "AC6800B Series Basic AC Power Sources", Specifications),
  FREQuency subsystem, OUTPut subsystem (`OUTPut[:STATe]`),
  FETCh and MEASure subsystems (`VOLTage:AC?`, `CURRent:AC?`, `POWer:AC[:REAL]?`), SCPI
  error messages (`+0,"No error"`, `-113,"Undefined header"`, `-222,"Data out of range"`).
"""

from __future__ import annotations

from emulator.model import BenchModel
from emulator.scpi.server import BenchDevice, ScpiError, SignedErrors, boolean, choice, nr2, number


class _EmulatedSource(BenchDevice):
    """What every emulated source does to the bench: set V, f and the output; measure."""

    ROLE = "source"
    #: voltage ranges: (full scale, the highest voltage settable on it), V rms, ascending
    RANGES: tuple[tuple[float, float], ...] = ()
    FREQUENCY = (45.0, 65.0)

    def __init__(self, model: BenchModel) -> None:
        super().__init__(model)
        self.range = self.RANGES[-1][0]

    def reset(self) -> None:
        r = self.model.profile.ratings
        self.range = self.RANGES[-1][0]
        self.model.set_source(output=False, voltage=r.voltage_v, frequency=r.frequency_hz)

    def _set_range(self, args: list[str]) -> None:
        wanted = number(args, 0, self.RANGES[-1][0], "voltage range")
        full_scale, limit = next(r for r in self.RANGES if wanted <= r[0])
        if self.model.source().voltage > limit:
            raise ScpiError(-221, "Settings conflict: the voltage is above that range")
        self.range = full_scale

    def _limit(self) -> float:
        return dict(self.RANGES)[self.range]

    def _set_voltage(self, args: list[str]) -> None:
        self.model.set_source(voltage=number(args, 0, self._limit(), "voltage"))

    def _set_frequency(self, args: list[str]) -> None:
        low, high = self.FREQUENCY
        self.model.set_source(frequency=number(args, low, high, "frequency"))


class Chroma61500Device(_EmulatedSource):
    """A Chroma 61502 (1 kVA, 150 V / 300 V ranges, 15-1000 Hz)."""

    MODEL = "chroma-61500"
    DESIGNATION = "Chroma 61501/61502/61503/61504/61505 (61500 series)"
    idn = "Chroma ATE 61500,615020001234,1.00,1.01,1.02"
    TERSE_ERRORS = True
    RANGES = ((150.0, 150.0), (300.0, 300.0))
    FREQUENCY = (15.0, 1000.0)

    def __init__(self, model: BenchModel) -> None:
        super().__init__(model)
        m, c = model, self.command
        c("[SOURce:]VOLTage[:LEVel][:IMMediate][:AMPLitude]:AC", False, self._set_voltage)
        c("[SOURce:]VOLTage[:LEVel][:IMMediate][:AMPLitude]:AC", True,
          lambda a: nr2(m.source().voltage, 1))
        c("[SOURce:]VOLTage:RANGe", False, self._range_word)
        c("[SOURce:]VOLTage:RANGe", True, lambda a: "LOW" if self.range == 150.0 else "HIGH")
        c("[SOURce:]FREQuency[:CW]", False, self._set_frequency)
        c("[SOURce:]FREQuency:IMMediate", False, self._set_frequency)
        c("[SOURce:]FREQuency[:CW]", True, lambda a: nr2(m.source().frequency, 2))
        c("OUTPut[:STATe]", False, lambda a: m.set_source(output=boolean(a, "output")))
        c("OUTPut[:STATe]", True, lambda a: "ON" if m.source().output else "OFF")
        self.readings({"VOLTage:ACDC": lambda a: nr2(m.measure().source_v, 2),
                       "CURRent:AC": lambda a: nr2(m.measure().source_i, 3),
                       "POWer:AC[:REAL]": lambda a: nr2(m.measure().source_p, 1),
                       "FREQuency": lambda a: nr2(m.source().frequency, 2)})

    def _range_word(self, args: list[str]) -> None:
        word = choice(args, {"LOW": "150", "HIGH": "300", "150": "150", "300": "300"},
                      "voltage range")
        self._set_range([word])


class KeysightAC6800BDevice(SignedErrors, _EmulatedSource):
    """A Keysight AC6802B (1000 VA, 155 V / 310 V ranges, 40-500 Hz)."""

    MODEL = "keysight-ac6800b"
    DESIGNATION = "Keysight AC6801B/AC6802B/AC6803B/AC6804B (AC6800B series)"
    idn = "Keysight Technologies,AC6802B,MY56001234,A.01.02.0064"
    RANGES = ((155.0, 155.0), (310.0, 310.0))
    FREQUENCY = (40.0, 500.0)

    def __init__(self, model: BenchModel) -> None:
        super().__init__(model)
        m, c = model, self.command
        c("[SOURce:]VOLTage[:LEVel][:IMMediate][:AMPLitude]", False, self._set_voltage)
        c("[SOURce:]VOLTage[:LEVel][:IMMediate][:AMPLitude]", True,
          lambda a: f"{m.source().voltage:+.2f}")
        c("[SOURce:]VOLTage:RANGe[:UPPer]", False, self._set_range)
        c("[SOURce:]VOLTage:RANGe[:UPPer]", True, lambda a: f"{self.range:+.1f}")
        c("[SOURce:]FREQuency[:IMMediate]", False, self._set_frequency)
        c("[SOURce:]FREQuency[:IMMediate]", True, lambda a: f"{m.source().frequency:+.2f}")
        c("OUTPut[:STATe]", False, lambda a: m.set_source(output=boolean(a, "output")))
        c("OUTPut[:STATe]", True, lambda a: "1" if m.source().output else "0")
        self.readings({"VOLTage:AC": lambda a: f"{m.measure().source_v:+.2f}",
                       "CURRent:AC": lambda a: f"{m.measure().source_i:+.3f}",
                       "POWer:AC[:REAL]": lambda a: f"{m.measure().source_p:+.1f}"})
