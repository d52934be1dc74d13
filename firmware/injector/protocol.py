"""The keypad injector protocol's grammar: a received line -> its words -> one command.

The one parser of the protocol (README, "Keypad injector protocol"), shared by the firmware
(injector.py: on a Raspberry Pi Pico under MicroPython, on a host under CPython) and the
emulated injector (emulator/keypad.py), so both read and refuse the same lines with the same
words. Kept to the MicroPython subset: no dataclasses, no typing imports, no bytes.decode
(MicroPython's decodes UTF-8 only and may refuse line noise), plain exceptions.
"""

MAX_MS = 10000
KEYS = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "BS", "ENT")
TYPE_SYMBOLS = {"<": "BS", "#": "ENT"}
LAST_SYMBOLS = {"BS": "<", "ENT": "#"}
# how many arguments each command takes at most (after the command word)
MOST_ARGS = {"*IDN?": 0, "TIME?": 0, "LAST?": 1, "PRESS": 2, "TYPE": 3}
DEFAULT_LAST = 32


class ProtocolError(ValueError):
    """A command line the injector refuses; its text is the answer after ERR."""


def printable(raw: bytes) -> str:
    """The line as text, CR dropped, every other byte outside printable ASCII as \\xNN, so
    an ERR names the bytes received."""
    out = []
    for b in raw:
        if b == 13:
            continue
        out.append(chr(b) if 32 <= b < 127 or b == 9 else f"\\x{b:02x}")
    return "".join(out)


def words(raw: bytes) -> list:
    """The words of a received line (without its LF), split at spaces and tabs; [] for a
    blank line (nothing is answered)."""
    return printable(raw).split()


def key_name(text: str) -> str:
    """A key of PRESS (0-9, BS, ENT) or of TYPE (0-9, <, #) -> its name."""
    name = TYPE_SYMBOLS.get(text, text.upper())
    if name in KEYS:
        return name
    raise ProtocolError(f"bad key '{text}' (keys: 0-9, BS, ENT; in TYPE: 0-9 < #)")


def number(text: str, what: str) -> float:
    """A millisecond or count argument, 0..MAX_MS."""
    try:
        value = float(text)
    except ValueError:
        raise ProtocolError(f"{what} must be a number, got '{text}'") from None
    if not 0 <= value <= MAX_MS:
        raise ProtocolError(f"{what} {value:g} is out of range 0..{MAX_MS}")
    return value


def parse(parts: list, press_ms: float, gap_ms: float) -> tuple:
    """The words of one command -> the command and its checked arguments, every key checked
    before anything is pressed: ("*IDN?",), ("TIME?",), ("LAST?", count),
    ("PRESS", key, press_ms), ("TYPE", [keys], press_ms, gap_ms). ProtocolError -> ERR."""
    cmd = parts[0].upper()
    most = MOST_ARGS.get(cmd)
    if most is None:
        raise ProtocolError(f"unknown command '{parts[0]}'")
    if len(parts) - 1 > most:
        raise ProtocolError(f"too many arguments for {parts[0]} ({len(parts) - 1})")
    if cmd == "LAST?":
        return (cmd, int(number(parts[1], "count")) if len(parts) > 1 else DEFAULT_LAST)
    if cmd == "PRESS":
        if len(parts) < 2:
            raise ProtocolError("PRESS needs a key: 0-9, BS or ENT")
        key = key_name(parts[1])
        return (cmd, key, number(parts[2], "press_ms") if len(parts) > 2 else press_ms)
    if cmd == "TYPE":
        if len(parts) < 2:
            raise ProtocolError("TYPE needs keys (0-9, < for backspace, # for enter)")
        keys = [key_name(ch) for ch in parts[1]]
        press = number(parts[2], "press_ms") if len(parts) > 2 else press_ms
        gap = number(parts[3], "gap_ms") if len(parts) > 3 else gap_ms
        return (cmd, keys, press, gap)
    return (cmd,)
