"""The SCPI instrument base: open over VISA, keep *IDN?, turn SYST:ERR? into exceptions.

Properties are declared once per class, PyMeasure-style, with their unit and range: a value
out of range is refused before anything is sent, and after every command the error queue is
read, so an instrument's complaint is an exception and not a silent wrong value.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import pyvisa
from pyvisa.errors import VisaIOError

log = logging.getLogger("drivers.instruments")


class InstrumentError(Exception):
    """An instrument refused a command or reported an error."""


class InstrumentTimeout(InstrumentError):
    """An instrument did not answer within its timeout."""


class SafetyError(InstrumentError):
    """A command the bench's safety rules forbid (e.g. output on with terminals open)."""


class scpi_property:
    """A settable/readable instrument value with its unit and range."""

    def __init__(self, get: str | None, set: str | None = None, *, unit: str = "",
                 low: float | None = None, high: float | None = None,
                 choices: Sequence[str] | None = None, cast: Callable[[str], Any] = float,
                 doc: str = "") -> None:
        self.get_cmd, self.set_cmd = get, set
        self.unit, self.low, self.high, self.choices, self.cast = unit, low, high, choices, cast
        self.__doc__ = doc

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, inst: Any, owner: type | None = None) -> Any:
        if inst is None:
            return self
        if self.get_cmd is None:
            raise AttributeError(f"{self.name} cannot be read")
        return self.cast(inst.query(self.get_cmd))

    def check(self, value: Any) -> Any:
        if self.choices is not None:
            text = str(value).upper()
            if text not in self.choices:
                raise ValueError(f"{self.name} must be one of {', '.join(self.choices)}, "
                                 f"got {value!r}")
            return text
        number = float(value)
        if (self.low is not None and number < self.low) or (
                self.high is not None and number > self.high):
            raise ValueError(f"{self.name} {number:g} {self.unit} is out of range "
                             f"{self.low:g}..{self.high:g} {self.unit}")
        return number

    def __set__(self, inst: Any, value: Any) -> None:
        if self.set_cmd is None:
            raise AttributeError(f"{self.name} cannot be set")
        inst.write(self.set_cmd.format(self.check(value)))


class ScpiInstrument:
    """An instrument on a VISA resource; the generic command set of the emulated bench."""

    role = "instrument"

    def __init__(self, resource: str, *, timeout_ms: int = 3000, backend: str = "@py",
                 check_errors: bool = True, manager: pyvisa.ResourceManager | None = None) -> None:
        self.resource = resource
        self.check_errors_after = check_errors
        self._making_safe = False
        self._rm = manager or pyvisa.ResourceManager(backend)
        try:
            self._res = self._rm.open_resource(resource, read_termination="\n",
                                               write_termination="\n", timeout=timeout_ms)
        except (VisaIOError, OSError, ValueError) as exc:
            raise InstrumentError(f"{self.role} {resource}: cannot open ({exc})") from None
        self.idn = self.query("*IDN?")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.resource!r})"

    # --- traffic ------------------------------------------------------------------------------

    def query(self, command: str) -> str:
        try:
            answer = self._res.query(command).strip()
        except VisaIOError as exc:
            if exc.error_code == pyvisa.constants.StatusCode.error_timeout:
                raise InstrumentTimeout(
                    f"{self.role} {self.resource}: no answer to {command!r} within "
                    f"{self._res.timeout:g} ms") from None
            raise InstrumentError(f"{self.role} {self.resource}: {command!r} failed: {exc}") \
                from None
        log.debug("%s %s -> %s", self.role, command, answer)
        return answer

    def write(self, command: str) -> None:
        log.debug("%s <- %s", self.role, command)
        try:
            self._res.write(command)
        except VisaIOError as exc:
            raise InstrumentError(f"{self.role} {self.resource}: {command!r} failed: {exc}") \
                from None
        if self.check_errors_after:
            try:
                self.check_errors(command)
            except InstrumentError:
                self._make_safe()  # a complaint leaves the instrument harmless, then raises
                raise

    def errors(self) -> list[str]:
        """Empty the error queue; the errors it held."""
        found = []
        for _ in range(32):
            answer = self.query("SYST:ERR?")
            code = answer.split(",", 1)[0].strip()
            if code in ("0", "+0"):
                break
            found.append(answer)
        return found

    def check_errors(self, after: str) -> None:
        found = self.errors()
        if found:
            raise InstrumentError(f"{self.role} {self.resource} complained after {after!r}: "
                                  + "; ".join(found))

    # --- state --------------------------------------------------------------------------------

    def reset(self) -> None:
        self.write("*RST")

    def safe_state(self) -> None:
        """Leave the instrument harmless (outputs off); subclasses say what that means."""

    def _make_safe(self) -> None:
        if self._making_safe:
            return
        self._making_safe = True
        try:
            self.safe_state()
        except InstrumentError as exc:
            log.warning("%s: could not reach its safe state: %s", self.role, exc)
        finally:
            self._making_safe = False

    def close(self) -> None:
        """Safe state and *RST, then close; attempted whatever happens."""
        try:
            self._make_safe()
            self._res.write("*RST")
        except (VisaIOError, OSError) as exc:
            log.warning("%s: *RST at close failed: %s", self.role, exc)
        finally:
            self._res.close()

    def __enter__(self) -> ScpiInstrument:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
