"""The instrument drivers' exceptions, apart so the answer parsers and the base share them."""

from __future__ import annotations


class InstrumentError(Exception):
    """An instrument refused a command or reported an error."""


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
