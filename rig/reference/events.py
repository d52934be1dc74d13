"""The events a meter meets on the bench, as data: what the rig does, and how a technician
repeats it by hand (`step`). Both the reference model and the plans take these."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EnterToken:
    """Type a 20-digit token and ENTER. `label` says what it is (never a key)."""

    digits: str
    label: str = "token"

    def step(self) -> str:
        return f"type token {_grouped(self.digits)} and press ENTER ({self.label})"


@dataclass(frozen=True)
class EnterCode:
    """Type a short code (2-6 digits) and ENTER."""

    code: str

    def step(self) -> str:
        return f"type code {self.code} and press ENTER"


@dataclass(frozen=True)
class PowerCycle:
    """Supply off for `off_s` seconds, then on at rated voltage."""

    off_s: float = 2.0

    def step(self) -> str:
        return f"switch the supply off for {self.off_s:g} s, then on again"


@dataclass(frozen=True)
class Wait:
    """Let `seconds` of time pass with nothing touched."""

    seconds: float

    def step(self) -> str:
        return f"wait {self.seconds:g} s"


@dataclass(frozen=True)
class SetLoad:
    """Draw `watts` of resistive load at the load terminals (0 = load off)."""

    watts: float

    def step(self) -> str:
        return "switch the load off" if self.watts <= 0 else \
            f"draw {self.watts:g} W (resistive) at the load terminals"


@dataclass(frozen=True)
class SetVoltage:
    """Set the supply voltage (inside the meter's ratings)."""

    volts: float

    def step(self) -> str:
        return f"set the supply to {self.volts:g} V"


@dataclass(frozen=True)
class EarthLeak:
    """The bench's earth-leak resistor connected from the load-side live to earth for a
    second with 1 A of load (earth-leakage tamper), then disconnected and the load off.
    `amps` is what it leaks (220 ohm at 230 V: about 1.05 A)."""

    amps: float = 1.05

    def step(self) -> str:
        return "draw 1 A and connect the earth-leak resistor (load-side live to earth, " \
               f"about {self.amps:g} A) for 1 s, then disconnect it and switch the load off"


Event = EnterToken | EnterCode | PowerCycle | Wait | SetLoad | SetVoltage | EarthLeak


def _grouped(digits: str) -> str:
    return "-".join(digits[i:i + 4] for i in range(0, len(digits), 4))
