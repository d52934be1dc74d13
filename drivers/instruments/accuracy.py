"""An instrument's accuracy specification: ±(% of reading + % of range), per function.

Each instrument model class declares `ACCURACY`, function -> `Specification`, with the
maker's published figures and their `source` (datasheet, document number, table), so the
report's uncertainty (rig/record/uncertainty.py) comes from the class that drives the
instrument. A run record keeps the specifications it used (`to_record`), so a report
rendered later shows the figures of the day even after a model's table is corrected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["FUNCTIONS", "NOT_REREAD", "Accuracy", "Specification"]

#: the functions the rig measures with an instrument, and their units
FUNCTIONS = {"ac_voltage": "V", "ac_current": "A", "power": "W", "time_interval": "s",
             "energy": "Wh"}


@dataclass(frozen=True)
class Specification:
    """±(pct_reading % of reading + pct_range % of range) over one range set of a function."""

    pct_reading: float
    pct_range: float
    ranges: tuple[float, ...]     # full-scale values, ascending; the smallest that holds it
    resolution: float = 0.0       # the instrument's own least digit on that use, if it matters
    source: str = ""              # document and table the figures come from
    fixed_range: float | None = None  # a driver that always selects this range
    note: str = ""                # how the figures were checked against the source, if so

    def text(self) -> str:
        return f"±({self.pct_reading:g} % of reading + {self.pct_range:g} % of range), 1 year"

    def to_record(self) -> dict[str, Any]:
        """The specification as plain JSON values, for the run record."""
        return {"pct_reading": self.pct_reading, "pct_range": self.pct_range,
                "ranges": list(self.ranges), "resolution": self.resolution,
                "source": self.source, "fixed_range": self.fixed_range, "note": self.note}

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> Specification:
        """Back from `to_record`; a missing or mistyped field is a ValueError naming it."""
        try:
            ranges = tuple(float(r) for r in data["ranges"])
            fixed = data.get("fixed_range")
            return cls(pct_reading=float(data["pct_reading"]),
                       pct_range=float(data["pct_range"]), ranges=ranges,
                       resolution=float(data.get("resolution", 0.0)),
                       source=str(data.get("source", "")),
                       fixed_range=None if fixed is None else float(fixed),
                       note=str(data.get("note", "")))
        except KeyError as exc:
            raise ValueError(f"accuracy specification: missing field {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise ValueError(f"accuracy specification: {exc}") from None


#: the note of figures that could not be read again in a stored copy of the maker's document
NOT_REREAD = ("not verified: no stored copy of this table could be found to read the "
              "figures again (issue 20 review); check them against the maker's document")

#: a model's accuracy table: function -> specification
Accuracy = dict[str, Specification]
