"""The emulated bench's `generic` instruments' accuracy: nominal figures of a typical bench
class, shared by every generic class so a function reads the same whichever role reports it.
No calibration stands behind an emulated instrument (an emulated bench tests the rig, not a
meter); the figures only let the report exercise the whole uncertainty computation."""

from __future__ import annotations

from drivers.instruments.accuracy import Specification

_SOURCE = "nominal (emulated instrument)"

NOMINAL: dict[str, Specification] = {
    "ac_voltage": Specification(0.1, 0.05, (1.0, 10.0, 100.0, 1000.0), source=_SOURCE),
    "ac_current": Specification(0.2, 0.05, (1.0, 10.0, 100.0), source=_SOURCE),
    "power": Specification(0.3, 0.1, (1000.0, 10000.0), source=_SOURCE),
    "time_interval": Specification(0.01, 0.2, (0.1, 1.0, 10.0), source=_SOURCE),
}
