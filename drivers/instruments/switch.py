"""Switch/actuator units: relay channels that connect a stimulus to the meter's circuit.

The earth-leakage tamper stimulus is a known resistor from the meter's load-side live to
earth, connected by one relay channel (named `earth_leak`): at 230 V a 220 Ω resistor
leaks about 1.05 A, twice the profiles' 0.5 A tamper threshold. A lab wires its resistor to
the channel the model's `CHANNELS["earth_leak"]` names, or names its own in the bench file
(`[instruments.switch] channels = { earth_leak = 305 }`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from drivers.instruments.accuracy import Accuracy
from drivers.instruments.base import ScpiInstrument


class Switch(ScpiInstrument):
    """Generic switch unit (the emulated bench's command set: SCPI ROUTe:CLOSe/OPEN with
    channel lists, as the Keysight 34970A/DAQ970A answer them)."""

    ROLE = "switch"
    MODEL = "generic"
    DESIGNATION = "generic SCPI switch/actuator unit (emulated bench)"
    ACCURACY: ClassVar[Accuracy] = {}  # it switches; it measures nothing
    CHANNELS: ClassVar[dict[str, str]] = {"earth_leak": "101"}

    def __init__(self, resource: str, *, channels: dict[str, str] | None = None,
                 **kw: Any) -> None:
        # a bench wired otherwise names its channels ([instruments.switch] channels)
        self.channels = {**self.CHANNELS, **{k: str(v) for k, v in (channels or {}).items()}}
        super().__init__(resource, **kw)

    def channel(self, name: str) -> str:
        """The channel a named connection is wired to; KeyError names the known ones."""
        try:
            return self.channels[name]
        except KeyError:
            raise KeyError(f"{self.role} {self.resource}: no channel named {name!r} "
                           f"(named: {', '.join(self.channels)})") from None

    def close_channel(self, channel: str) -> None:
        """Close one relay channel (the error queue is read: a refusal raises). Not `close`:
        that name ends the instrument's session."""
        self.write(f"ROUT:CLOS (@{channel})")

    def open_channel(self, channel: str) -> None:
        self.write(f"ROUT:OPEN (@{channel})")

    def is_closed(self, channel: str) -> bool:
        return self.query_bool(f"ROUT:CLOS? (@{channel})")

    def set_named(self, name: str, closed: bool) -> None:
        """Connect (closed) or disconnect a named stimulus, e.g. `earth_leak`."""
        channel = self.channel(name)
        if closed:
            self.close_channel(channel)
        else:
            self.open_channel(channel)

    def safe_state(self) -> None:
        """Every named channel open: no stimulus left connected."""
        for channel in self.channels.values():
            self.write(f"ROUT:OPEN (@{channel})")


class KeysightDaq970a(Switch):
    """Keysight DAQ970A with a DAQM903A 20-channel actuator/GP switch module in slot 3
    (Keysight DAQ970A Programming Reference: ROUTe:CLOSe, ROUTe:OPEN, ROUTe:CLOSe? with a
    channel list `(@301)`; channels 301-320). The earth-leak resistor on channel 301."""

    MODEL = "keysight-daq970a"
    DESIGNATION = "Keysight DAQ970A with DAQM903A actuator module (slot 3)"
    ACCURACY: ClassVar[Accuracy] = {}
    CHANNELS: ClassVar[dict[str, str]] = {"earth_leak": "301"}
