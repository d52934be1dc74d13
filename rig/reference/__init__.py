"""The reference: what a compliant meter must do, written from the standard and the profile.

`ReferenceMeter(profile, key, mfr_code=...).apply(event, t) -> Expectation` carries an event
(rig.reference.events) into the model and says what must follow (allowed outcomes, allowed
value of every fact); `check(observed, t)` lists the deviations. `rig.reference.matrix`
declares, once, what every persistent item must become at every event; `Conductor` drives
the meter under test and the model in step.
"""

from rig.reference.events import (
    EarthLeak,
    EnterCode,
    EnterToken,
    Event,
    PowerCycle,
    SetLoad,
    SetVoltage,
    Wait,
)
from rig.reference.expectation import Allowed, Deviation, Expectation
from rig.reference.reference_meter import Band, Items, KeyData, ReferenceMeter

__all__ = [
    "Allowed", "Band", "Deviation", "EarthLeak", "EnterCode", "EnterToken", "Event",
    "Expectation", "Items", "KeyData", "PowerCycle", "ReferenceMeter", "SetLoad", "SetVoltage",
    "Wait",
]
