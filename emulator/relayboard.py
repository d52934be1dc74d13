"""The emulated NCD ProXR relay board, pressing the emulated meter's keys.

Speaks the ProXR bytes the rig's `drivers.relayboard` sends (254 33 two-way test, 254
108+r B relay on, 254 100+r B relay off, 254 129 B all off of bank B or of every bank for
0; each answered 85) on a pty, with the key-to-channel map of the bench file's
[keypad.map] (the driver's default map otherwise). A key's channel closing is the key going
down, opening is it coming up. The sync channel is a relay like any other here: the model
wires the scope's CH2 to the ENTER contact, which is where the sync relay is closed too.
Unknown command codes are dropped unanswered, as line noise is.
"""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path

from emulator.model import BenchModel
from emulator.pty_port import PtyServer

log = logging.getLogger("emulator.relayboard")

KEYS = (*"0123456789", "BS", "ENT")
DEFAULT_MAP = {**{str(d): d for d in range(1, 10)}, "BS": 10, "0": 11, "ENT": 12}
DEFAULT_SYNC_CHANNEL = 13
HEADER, TEST_2WAY, RELAY_OFF, RELAY_ON, ALL_OFF, ACK = 254, 33, 100, 108, 129, 0x55


def keypad_map(bench_file: str | None) -> tuple[dict[int, str], int | None]:
    """channel -> key, and the sync channel, from a bench file's [keypad] (or the default)."""
    table: dict = {}
    if bench_file:
        with Path(bench_file).open("rb") as fh:
            table = tomllib.load(fh).get("keypad", {})
    keys = table.get("map") or DEFAULT_MAP
    missing = [k for k in KEYS if k not in keys]
    if missing:
        raise ValueError(f"[keypad.map] has no channel for {', '.join(missing)}")
    return {int(ch): key for key, ch in keys.items()}, table.get("sync_channel",
                                                                  DEFAULT_SYNC_CHANNEL)


class ProXRBoardServer(PtyServer):
    """Serves the ProXR relay board until `stop()`."""

    name = "relayboard"

    def __init__(self, model: BenchModel, channels: dict[int, str] | None = None,
                 sync_channel: int | None = DEFAULT_SYNC_CHANNEL) -> None:
        super().__init__()
        self.model = model
        self.channels = channels or {ch: k for k, ch in DEFAULT_MAP.items()}
        self.sync_channel = sync_channel
        self.closed: set[int] = set()

    def _run(self) -> None:
        buf = b""
        while not self._stop.is_set():
            data = self.port.read(0.2)
            if not data:
                continue
            buf = self.feed(buf + data)

    def feed(self, buf: bytes) -> bytes:
        """Act every whole command in `buf`; the bytes of an unfinished one are returned."""
        while buf:
            start = buf.find(bytes([HEADER]))
            if start < 0:
                return b""
            buf = buf[start:]
            if len(buf) < 2:
                return buf
            code = buf[1]
            if code == TEST_2WAY:
                self.port.write(bytes([ACK]))
                buf = buf[2:]
                continue
            if not (RELAY_OFF <= code < RELAY_ON + 8 or code == ALL_OFF):
                log.debug("relay board: command %d dropped", code)
                buf = buf[2:]
                continue
            if len(buf) < 3:
                return buf
            bank = buf[2]
            buf = buf[3:]
            if code == ALL_OFF:
                for ch in sorted(self.closed):
                    if bank in (0, (ch - 1) // 8 + 1):
                        self._set(ch, False)
            elif 1 <= bank <= 32:
                relay = code - (RELAY_ON if code >= RELAY_ON else RELAY_OFF)
                self._set((bank - 1) * 8 + relay + 1, code >= RELAY_ON)
            self.port.write(bytes([ACK]))
        return b""

    def _set(self, channel: int, on: bool) -> None:
        if (channel in self.closed) == on:
            return
        (self.closed.add if on else self.closed.discard)(channel)
        key = self.channels.get(channel)
        if key is None:
            return  # the sync relay, or a channel wired to nothing
        if on:
            self.model.key_down(key)
        else:
            self.model.key_up(key)


#: `rig emulate --keypad NAME`: what can stand on the keypad's pty
KEYPAD_KINDS = {
    "injector": "the rig's keypad injector line protocol (firmware/injector, a Pico)",
    "proxr": "an NCD ProXR relay board (bytes 254 ..., one relay per key, host timing)",
}


def keypad_server(kind: str, model: BenchModel, *, bench_file: str | None = None,
                  press_ms: float = 65.0, gap_ms: float = 500.0) -> PtyServer:
    """The keypad device of the emulated bench, by kind; ValueError names the known kinds."""
    if kind == "injector":
        from emulator.keypad import KeypadInjectorServer

        return KeypadInjectorServer(model, press_ms=press_ms, gap_ms=gap_ms)
    if kind == "proxr":
        channels, sync = keypad_map(bench_file)
        return ProXRBoardServer(model, channels, sync)
    raise ValueError(f"unknown keypad kind {kind!r} (known: {', '.join(KEYPAD_KINDS)}; "
                     "see --list-keypads)")
