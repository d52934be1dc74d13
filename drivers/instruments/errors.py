"""The instrument drivers' exceptions, apart so the answer parsers and the base share them."""

from __future__ import annotations


class InstrumentError(Exception):
    """An instrument refused a command or reported an error."""


class CommandRefused(InstrumentError):
    """The instrument queued an error after `command`: `entries` are the (code, text) pairs
    its error queue held, oldest first."""

    def __init__(self, where: str, command: str, entries: list[tuple[int, str]]) -> None:
        shown = "; ".join(f'{code},"{text}"' for code, text in entries)
        super().__init__(f"{where} refused {command!r}: {shown}")
        self.command = command
        self.entries = entries
        self.code = entries[0][0] if entries else 0


class InstrumentTimeout(InstrumentError):
    """An instrument did not answer (or did not end its answer) within its timeout."""


class SafetyError(InstrumentError):
    """A command the bench's safety rules forbid (e.g. output on with terminals open)."""


class AnswerError(InstrumentError):
    """An answer that is not what the command's answer must be: `command` is the query,
    `received` the answer as it came."""

    def __init__(self, message: str, *, command: str = "", received: bytes = b"") -> None:
        super().__init__(message)
        self.command = command
        self.received = received
