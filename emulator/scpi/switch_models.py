"""Emulated switch units: relay channels, one of which connects the bench's earth-leak
resistor (EARTH_LEAK_OHMS) from the meter's load-side live to earth.

- generic: channels 101-120, earth leak on 101, SCPI ROUTe:CLOSe/OPEN/CLOSe? (@list).
- Keysight DAQ970A with a DAQM903A actuator module in slot 3 (DAQ970A Programming
  Reference, ROUTe subsystem): channels 301-320, earth leak on 301, `+0,"No error"`, an
  absent channel -224 "Illegal parameter value".
"""

from __future__ import annotations

import re

from emulator.model import BenchModel
from emulator.scpi.server import BenchDevice, ScpiError, SignedErrors

#: the emulated bench's earth-leak resistor: 230 V / 220 Ω ≈ 1.05 A, twice the profiles'
#: 0.5 A tamper threshold
EARTH_LEAK_OHMS = 220.0


class SwitchDevice(BenchDevice):
    ROLE = "switch"
    MODEL = "generic"
    DESIGNATION = "generic SCPI switch/actuator unit (emulated bench)"
    idn = "STS-RIG,EMU-SWITCH,EMU0005,1.0"
    FIRST_CHANNEL = 101
    EARTH_LEAK = "101"

    def __init__(self, model: BenchModel) -> None:
        super().__init__(model)
        self.closed: set[str] = set()
        c = self.command
        c("ROUTe:CLOSe", False, lambda a: self._switch(a, True))
        c("ROUTe:OPEN", False, lambda a: self._switch(a, False))
        c("ROUTe:CLOSe", True, lambda a: ",".join("1" if ch in self.closed else "0"
                                                  for ch in self._channels(a)))
        c("ROUTe:OPEN", True, lambda a: ",".join("0" if ch in self.closed else "1"
                                                 for ch in self._channels(a)))

    def reset(self) -> None:
        for channel in list(self.closed):
            self._switch([f"(@{channel})"], False)

    def _channels(self, args: list[str]) -> list[str]:
        """The channels of a list `(@301,302)` or `(@301:303)` (the comma split rejoined)."""
        text = ",".join(args).replace(" ", "")
        match = re.fullmatch(r"\(@([0-9:,]+)\)", text)
        if not args:
            raise ScpiError(-109, "Missing parameter: channel list")
        if match is None:
            raise ScpiError(-104, f"Data type error: channel list {text!r}")
        out: list[str] = []
        for part in match.group(1).split(","):
            first, _, last = part.partition(":")
            if not first.isdigit() or (last and not last.isdigit()):
                raise ScpiError(-104, f"Data type error: channel list {text!r}")
            for number in range(int(first), int(last or first) + 1):
                if not self.FIRST_CHANNEL <= number < self.FIRST_CHANNEL + 20:
                    raise ScpiError(-224, f"Illegal parameter value: channel {number}")
                out.append(str(number))
        return out

    def _switch(self, args: list[str], close: bool) -> None:
        for channel in self._channels(args):
            if close:
                self.closed.add(channel)
            else:
                self.closed.discard(channel)
            if channel == self.EARTH_LEAK:
                volts = self.model.source().voltage if self.model.source().output else 0.0
                self.model.set_load(leak=volts / EARTH_LEAK_OHMS if close else 0.0)


class KeysightDaq970aDevice(SignedErrors, SwitchDevice):
    MODEL = "keysight-daq970a"
    DESIGNATION = "Keysight DAQ970A with DAQM903A actuator module (slot 3)"
    idn = "Keysight Technologies,DAQ970A,MY58001234,A.03.01-01.00-03.01-00.02-03.01"
    FIRST_CHANNEL = 301
    EARTH_LEAK = "301"
