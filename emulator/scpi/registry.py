"""The emulated instrument models: role -> bench-file model name -> device class.

A `ScpiDevice` subclass that declares `MODEL` registers itself here under its `ROLE`; the
names are the ones bench files use (and the drivers' registry, drivers/instruments/, uses
the same). Every module of emulator/scpi is imported on first use, so a new model is one
new module.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

__all__ = ["DEVICES", "UnknownDevice", "device_class", "devices"]

DEVICES: dict[str, dict[str, type]] = {}
_loaded = False


class UnknownDevice(ValueError):
    """A role or model the emulated bench does not serve."""


def register(cls: type) -> type:
    role, name = cls.ROLE, cls.MODEL
    if not role or not name:
        raise TypeError(f"emulated instrument {cls.__name__} must declare ROLE and MODEL")
    by_name = DEVICES.setdefault(role, {})
    if name in by_name and by_name[name] is not cls:
        raise TypeError(f"two emulated {role} models named {name!r}: "
                        f"{by_name[name].__name__} and {cls.__name__}")
    by_name[name] = cls
    return cls


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    import emulator.scpi as package

    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
    _loaded = True


def devices() -> dict[str, dict[str, type]]:
    """Every emulated model, role -> name -> class."""
    _load_all()
    return DEVICES


def device_class(role: str, name: str) -> Any:
    """The emulated device class of `name` in `role`; UnknownDevice names the known ones."""
    known = devices()
    if role not in known:
        raise UnknownDevice(f"the emulated bench has no {role!r} instruments (roles: "
                            f"{', '.join(known)})")
    if name not in known[role]:
        raise UnknownDevice(f"the emulated bench has no {role} model {name!r} (known: "
                            f"{', '.join(known[role])})")
    return known[role][name]
