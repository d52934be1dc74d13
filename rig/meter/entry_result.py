"""What the meter said about one entry (a token or a short code typed and ENTER).

The source that gives a model's entry results (`rig.meter.sources`) builds an `EntryResult`:
the outcome where the model reports one (a result register), else only the message its
display showed. `seen` and `want` let a plan compare either against the expected outcome.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["COUNTED", "EntryResult"]

COUNTED = re.compile(r"^(\S+) [0-9]+$")  # "KCT 2": the message KCT with a count


@dataclass(frozen=True)
class EntryResult:
    """What the meter said about one entry: its outcome where the model reports one
    (a result register), else only the message its display showed (`outcome` None)."""

    outcome: str | None
    display: str
    t_enter: float  # bench time ENTER was pressed (the injector's clock)
    messages: dict[str, str] = field(default_factory=dict, repr=False)
    code: bool = False  # a short code (its display is a value, not a message)
    how: str = ""  # where the result was read: "register C.52.0", "display"
    source: str = ""  # the tag of the source that read it: "register", "display"

    @property
    def seen(self) -> str:
        """The outcome, or the message shown ("KCT 2" reads as the message "KCT")."""
        if self.outcome is not None:
            return self.outcome
        counted = COUNTED.match(self.display)
        if counted and counted[1] in self.messages.values():
            return counted[1]
        return self.display

    def want(self, outcome: str) -> str:
        """What `seen` must be for `outcome`: the outcome itself, or its declared message
        (on a display-only meter KEY_EXPIRED and CRC_ERROR are both GAGAL)."""
        if self.outcome is not None:
            return outcome
        return self.messages.get(outcome, outcome)

    @property
    def accepted(self) -> bool:
        """Accepted: ACCEPT, or its message, or a code that showed a value (no refusal)."""
        if self.outcome is not None:
            return self.outcome == "ACCEPT"
        if self.code:
            refusals = {m for o, m in self.messages.items() if o != "ACCEPT"}
            return self.seen not in refusals
        return self.seen == self.want("ACCEPT")
