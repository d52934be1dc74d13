"""Is the meter on the bench the one the run is for, and whose keys does it take?

At bring-up the meter reports its PAN (where its profile declares a `meter_pan` fact). With
a bench file alone, that PAN must be the one the bench file names: tokens vended for another
meter would be refused, and the report would name the wrong meter. With `--meters FILE` the
meter is the one it says it is, and its keys and lot come from the meters file by that PAN
(`rig.bench.meters_file`), not from the bench file's [meter].
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

__all__ = ["WrongMeter", "check_pan", "meters_file_entry", "with_meter"]


class WrongMeter(Exception):
    """The meter on the bench is not the one the run is for (or cannot say which it is):
    the run stops, naming the port and both PANs."""


def check_pan(pan_read: str | None, config: Any, port: Any) -> None:
    """WrongMeter when the meter reported a PAN other than the bench file's."""
    if pan_read and pan_read != config.meter.pan:
        raise WrongMeter(f"the meter on {port} reports PAN {pan_read}, the "
                         f"bench file {Path(config.path).name} names {config.meter.pan}")


def meters_file_entry(path: str, pan_read: str | None, port: Any, config: Any) -> Any:
    """The meters file's entry (keys, lot, lines) for the meter that reported `pan_read`;
    the bench file's vending key reference is kept (it is the vending side's)."""
    from rig.bench.meters_file import MetersFileError, load_meters

    if not pan_read:
        raise WrongMeter(f"--meters {path}: the meter on {port} did not report its PAN at "
                         f"bring-up (its profile offers no meter_pan read, or the read failed)")
    try:
        return load_meters(path).entry_for(pan_read, vending_key=config.meter.keys.vending_key)
    except MetersFileError as exc:
        raise WrongMeter(f"--meters: {exc}") from None


def with_meter(config: Any, pan: str, keys: Any) -> Any:
    """`config` with its [meter] PAN and keys replaced."""
    return dataclasses.replace(config, meter=dataclasses.replace(config.meter, pan=pan,
                                                                 keys=keys))
