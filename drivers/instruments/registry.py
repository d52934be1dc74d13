"""The instrument model registry: every model class registers itself by its ROLE and MODEL.

A model class (a subclass of `ScpiInstrument`) that declares `MODEL` in its own body is a
model: it must also declare `DESIGNATION` (the maker's model designation) and `ACCURACY`
(function -> Specification, from the maker's datasheet) in its own body, so nothing about a
model is inherited by mistake. The bench roles, the bench file's model names, the per-role
fixtures and the uncertainty lookup all derive from what is registered here; no other module
asks which class an instrument is.
"""

from __future__ import annotations

from typing import Any

from drivers.instruments.accuracy import Specification

__all__ = ["MODELS", "ROLE_ORDER", "UnknownModel", "all_models", "model_class", "model_name",
           "register", "roles"]

#: the roles in the order a bench brings them up (a role not listed sorts after them)
ROLE_ORDER = ("source", "load", "dmm", "scope", "power_meter")

#: role -> bench-file model name -> class (filled as the model classes are defined)
MODELS: dict[str, dict[str, type]] = {}


class UnknownModel(ValueError):
    """A role or model name no registered instrument class has."""


def register(cls: type) -> type:
    """Register a model class; a TypeError names what the class failed to declare."""
    own = cls.__dict__
    for attr in ("ROLE", "MODEL", "DESIGNATION", "ACCURACY"):
        if attr not in own and not (attr == "ROLE" and getattr(cls, "ROLE", "")):
            raise TypeError(f"instrument model {cls.__name__} declares MODEL but not {attr}")
    role, name = cls.ROLE, cls.MODEL
    if not isinstance(name, str) or not name or name != name.lower() or " " in name:
        raise TypeError(f"{cls.__name__}.MODEL must be a lowercase bench-file name, "
                        f"got {name!r}")
    for function, spec in cls.ACCURACY.items():
        if not isinstance(spec, Specification) or not spec.source:
            raise TypeError(f"{cls.__name__}.ACCURACY[{function!r}] must be a Specification "
                            "citing its source")
    by_name = MODELS.setdefault(role, {})
    if name in by_name and by_name[name] is not cls:
        raise TypeError(f"two {role} models named {name!r}: {by_name[name].__name__} and "
                        f"{cls.__name__}")
    by_name[name] = cls
    return cls


def roles() -> tuple[str, ...]:
    """The roles some registered model fills, in bring-up order."""
    order = {r: i for i, r in enumerate(ROLE_ORDER)}
    return tuple(sorted(MODELS, key=lambda r: (order.get(r, len(order)), r)))


def model_class(role: str, name: str) -> type:
    """The class of `name` in `role`; UnknownModel names the known ones."""
    if role not in MODELS:
        raise UnknownModel(f"unknown instrument role {role!r} (known: {', '.join(roles())})")
    try:
        return MODELS[role][name]
    except KeyError:
        raise UnknownModel(f"unknown {role} model {name!r} (known: "
                           f"{', '.join(MODELS[role])})") from None


def all_models() -> list[type]:
    """Every registered model class, by role (bring-up order), `generic` first, then by name."""
    return [MODELS[r][n] for r in roles()
            for n in sorted(MODELS[r], key=lambda n: (n != "generic", n))]


def model_name(instrument: Any) -> str | None:
    """The bench-file model name of an open driver (or of a model class), None if it is no
    registered model."""
    cls = instrument if isinstance(instrument, type) else type(instrument)
    name = cls.__dict__.get("MODEL")
    if name is None or MODELS.get(getattr(cls, "ROLE", ""), {}).get(name) is not cls:
        return None
    return name
