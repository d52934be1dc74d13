"""An off-the-shelf relay board as the keypad injector: NCD ProXR (Enhanced command set).

One relay per key, its contacts wired across that key's contacts on the meter's keypad
(through the board's dry contacts: the meter side is at mains potential, see the README's
wiring note), plus an optional relay for the scope's ENTER sync line. The board only
switches relays; the press and gap timing and the clock are the host's, so this driver
offers what `drivers.keypad.KeypadInjector` offers (identify/idn, time, press, type_keys,
type_token, last) and the layer above cannot tell the two apart.

ProXR command bytes (NCD ProXR manual): 254 33 tests two-way communication (answer 85 in
run mode, 86 in configuration mode); 254 (108 + r) B turns relay r (0-7) of bank B (1-32)
on, 254 (100 + r) B turns it off, 254 129 0 turns every relay of every bank off; each relay
command is answered 85. Channel n (1-based, as [keypad.map] names it) is relay (n-1) mod 8
of bank (n-1) div 8 + 1, so a 16-channel board has banks 1 and 2.

Time: the board has no clock. `time()` is the host's monotonic clock times the bench speed
from `epoch` (on the emulated bench, the emulator's clock start, so the times agree with
the meter's; on a real bench, the moment the board was opened); a press time is taken just
before its relay command is sent, so it is at or before the contact closing.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Mapping

import serial

from drivers.keypad import KeypadError
from sts.digits import TokenTextError, token_text

log = logging.getLogger("drivers.relayboard")

KEYS = (*"0123456789", "BS", "ENT")
SYMBOL_KEYS = {"<": "BS", "#": "ENT"}
KEY_SYMBOLS = {"BS": "<", "ENT": "#"}
#: a 16-channel board: keypad keys in telephone order, then BS, 0, ENT; channel 13 the sync
DEFAULT_MAP: dict[str, int] = {**{str(d): d for d in range(1, 10)}, "BS": 10, "0": 11,
                               "ENT": 12}
DEFAULT_SYNC_CHANNEL = 13
CHANNELS = 256  # 32 banks of 8: the most a ProXR controller addresses

HEADER = 254
TEST_2WAY = 33
RELAY_ON = 108
RELAY_OFF = 100
ALL_OFF = 129
ACK, ACK_CONFIG = 0x55, 0x56


class RelayBoardError(KeypadError):
    """The relay board did not acknowledge a command, or a key has no relay."""


def channel_bytes(channel: int, on: bool) -> bytes:
    """The ProXR command switching one channel (1-based) on or off."""
    if not 1 <= channel <= CHANNELS:
        raise RelayBoardError(f"relay channel {channel} is outside 1..{CHANNELS}")
    bank, relay = divmod(channel - 1, 8)
    return bytes([HEADER, (RELAY_ON if on else RELAY_OFF) + relay, bank + 1])


class ProXRRelayBoard:
    """An NCD ProXR relay controller on a serial port, pressing the meter's keys."""

    kind = "proxr"

    def __init__(self, port: str, *, key_map: Mapping[str, int] | None = None,
                 sync_channel: int | None = DEFAULT_SYNC_CHANNEL, press_ms: float = 65,
                 gap_ms: float = 500, baudrate: int = 115200, timeout: float = 2.0,
                 speed: float = 1.0, epoch: float | None = None) -> None:
        self.port = port
        self.key_map = dict(DEFAULT_MAP if key_map is None else key_map)
        missing = [k for k in KEYS if k not in self.key_map]
        if missing:
            raise RelayBoardError(f"relay board: keys {', '.join(missing)} have no relay "
                                  "channel ([keypad.map])")
        self.sync_channel = sync_channel
        self.press_ms, self.gap_ms = press_ms, gap_ms
        self.timeout = timeout
        self.speed = float(speed)
        self.epoch = time.monotonic() if epoch is None else float(epoch)
        self.keys: deque[str] = deque(maxlen=256)
        self.idn = ""
        try:
            self._ser = serial.serial_for_url(port, baudrate=baudrate, timeout=timeout)
        except (serial.SerialException, ValueError) as exc:
            raise RelayBoardError(f"relay board: cannot open {port}: {exc}") from None

    # --- the wire ---------------------------------------------------------------------------

    def _command(self, data: bytes, what: str) -> int:
        """Send one command; its one-byte answer (85, or 86 for the 2-way test)."""
        self._ser.write(data)
        answer = self._ser.read(1)
        log.debug("relay board <- %s -> %r", data.hex(" "), answer)
        if not answer:
            raise RelayBoardError(f"relay board on {self.port} did not answer {what} "
                                  f"(sent {data.hex(' ')}, received nothing)")
        if answer[0] not in (ACK, ACK_CONFIG):
            raise RelayBoardError(f"relay board on {self.port} answered {answer!r} to {what} "
                                  f"(sent {data.hex(' ')}, expected 85)")
        return answer[0]

    # --- what KeypadInjector offers ---------------------------------------------------------

    def identify(self) -> str:
        """Test two-way communication and leave every relay open; the identity string."""
        mode = self._command(bytes([HEADER, TEST_2WAY]), "the 2-way communication test")
        if mode == ACK_CONFIG:
            raise RelayBoardError(f"relay board on {self.port} is in configuration mode; "
                                  "set it to run mode (the jumper) and power it again")
        self.release_all()
        sync = (f"sync relay channel {self.sync_channel}" if self.sync_channel else
                "no sync line: ENTER timing from the host clock only")
        self.idn = (f"NCD,PROXR-RELAY-BOARD,{self.port},timing from the host clock "
                    f"x{self.speed:g} (the board has none); {sync}")
        return self.idn

    def release_all(self) -> None:
        self._command(bytes([HEADER, ALL_OFF, 0]), "all relays off")

    def time(self) -> float:
        """Bench time from the host clock: (monotonic - epoch) x speed, seconds."""
        return (time.monotonic() - self.epoch) * self.speed

    def _until(self, deadline: float) -> None:
        """Wait until the host's monotonic `deadline`: sleep, then spin the last 0.5 ms (a
        65 ms press at 200x is 0.33 ms of real time)."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if left > 0.0005:
                time.sleep(left - 0.0005)

    def _acks(self, commands: list[bytes], what: str) -> None:
        """Read the one-byte answer of each command already sent, in order."""
        for data in commands:
            answer = self._ser.read(1)
            if answer not in (bytes([ACK]), bytes([ACK_CONFIG])):
                self._release_after_failure()
                got = f"received {answer!r}" if answer else "received nothing"
                raise RelayBoardError(f"relay board on {self.port} did not acknowledge "
                                      f"{what} (sent {data.hex(' ')}, {got})")

    def press(self, key: str, press_ms: float | None = None) -> float:
        """Press one key (0-9, BS, ENT); returns the bench time the press started."""
        return self._press(key, press_ms, time.monotonic())

    def _press(self, key: str, press_ms: float | None, start: float) -> float:
        """Close the key's relay (with the sync relay for ENT) at the host time `start`,
        open it press_ms of bench time later. The relay-off bytes are sent at their time
        and the answers read after: waiting for each answer first would lengthen every
        press by a round trip (at 200x, 2 ms of wire is 0.4 s of bench time)."""
        if key not in KEYS:
            raise RelayBoardError(f"key {key!r} is not one of 0-9, BS, ENT")
        press = self.press_ms if press_ms is None else press_ms
        channel = self.key_map[key]
        sync = self.sync_channel if key == "ENT" else None
        on = ([channel_bytes(sync, True)] if sync else []) + [channel_bytes(channel, True)]
        off = [channel_bytes(channel, False)] + ([channel_bytes(sync, False)] if sync else [])
        self._until(start)
        t = self.time()
        self._ser.write(b"".join(on))
        self._until(start + press / 1000.0 / self.speed)
        self._ser.write(b"".join(off))
        self._acks(on + off, f"the press of {key} (channel {channel})")
        self.keys.append(KEY_SYMBOLS.get(key, key))
        return t

    def _release_after_failure(self) -> None:
        try:
            self.release_all()
        except (RelayBoardError, serial.SerialException, OSError) as exc:
            log.warning("relay board on %s: all-off after a failure failed: %s", self.port,
                        exc)

    def type_keys(self, keys: str, press_ms: float | None = None,
                  gap_ms: float | None = None) -> tuple[float, float]:
        """Press a sequence (0-9, '<' backspace, '#' enter); returns first and last press."""
        if not keys or any(ch not in "0123456789<#" for ch in keys):
            raise RelayBoardError(f"keys {keys!r}: use 0-9, < (backspace) and # (enter)")
        press = self.press_ms if press_ms is None else press_ms
        gap = self.gap_ms if gap_ms is None else gap_ms
        step = (press + gap) / 1000.0 / self.speed  # press starts are this far apart
        times: list[float] = []
        start = time.monotonic()
        for ch in keys:
            times.append(self._press(SYMBOL_KEYS.get(ch, ch), press, start))
            # the next press a full step on; a late one never shortens the gap after it
            start = max(start + step, time.monotonic() + gap / 1000.0 / self.speed)
        return times[0], times[-1]

    def type_token(self, token: str, press_ms: float | None = None,
                   gap_ms: float | None = None, enter: bool = True) -> tuple[float, float]:
        """Type a 20-digit token (4-4-4-4-4 grouping allowed) and, by default, ENTER."""
        try:
            digits = token_text(str(token))
        except TokenTextError as exc:  # the one token grammar (sts.digits)
            what = "has characters other than digits" if exc.char is not None else "is refused"
            raise RelayBoardError(f"token {token!r} {what}: {exc}") from None
        return self.type_keys(digits + ("#" if enter else ""), press_ms, gap_ms)

    def last(self, n: int = 32) -> str:
        """The last n keys this driver pressed (the board keeps no history)."""
        return "".join(list(self.keys)[-n:]) if n > 0 else ""

    def close(self) -> None:
        if self._ser.is_open:
            try:
                self.release_all()
            except (RelayBoardError, serial.SerialException, OSError) as exc:
                log.warning("relay board on %s: all-off at close failed: %s", self.port, exc)
            self._ser.close()

    def __enter__(self) -> ProXRRelayBoard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: keypad kinds a bench file can name in [keypad] kind (besides "injector", our protocol)
RELAY_BOARDS: dict[str, type[ProXRRelayBoard]] = {"proxr": ProXRRelayBoard}
