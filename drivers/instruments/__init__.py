"""Lab instruments over VISA (pyvisa, pyvisa-py by default).

One class per instrument model: each role has a generic SCPI class (the command set the
emulated bench's `generic` instruments answer) and classes for real instruments, written from
their programming manuals. A class that declares `MODEL` registers itself under its `ROLE`
(drivers/instruments/registry.py); every module of this package is imported here, so a new
model is one new module and nothing else. `MODELS` maps role -> bench-file name -> class.
"""

from __future__ import annotations

import importlib
import pkgutil

from drivers.instruments.accuracy import Specification
from drivers.instruments.base import (
    AnswerError,
    CommandRefused,
    InstrumentError,
    InstrumentTimeout,
    SafetyError,
    ScpiInstrument,
)
from drivers.instruments.dmm import Dmm, Keysight34461A
from drivers.instruments.load import AcLoad, Chroma63800
from drivers.instruments.registry import (
    MODELS,
    UnknownModel,
    all_models,
    model_class,
    model_name,
    roles,
)
from drivers.instruments.scope import KeysightInfiniiVision, Scope
from drivers.instruments.source import AcSource, Chroma61500

# every model module registers its classes on import
for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "MODELS", "AcLoad", "AcSource", "AnswerError", "Chroma61500", "Chroma63800",
    "CommandRefused", "Dmm", "InstrumentError", "InstrumentTimeout", "Keysight34461A",
    "KeysightInfiniiVision", "SafetyError", "Scope", "ScpiInstrument", "Specification",
    "UnknownModel", "all_models", "model_class", "model_name", "roles",
]
