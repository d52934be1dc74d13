"""Lab instruments over VISA (pyvisa, pyvisa-py by default): one module per role.

Each role has a generic SCPI class (the command set the emulated instruments answer) and at
least one class for a real instrument, written from its programming manual. `MODELS` maps the
bench file's `model = "..."` names to classes.
"""

from drivers.instruments.base import (
    AnswerError,
    InstrumentError,
    InstrumentTimeout,
    SafetyError,
    ScpiInstrument,
)
from drivers.instruments.dmm import Dmm, Keysight34461A
from drivers.instruments.load import AcLoad, Chroma63800
from drivers.instruments.scope import KeysightInfiniiVision, Scope
from drivers.instruments.source import AcSource, Chroma61500

MODELS: dict[str, dict[str, type[ScpiInstrument]]] = {
    "source": {"generic": AcSource, "chroma-61500": Chroma61500},
    "load": {"generic": AcLoad, "chroma-63800": Chroma63800},
    "dmm": {"generic": Dmm, "keysight-34461a": Keysight34461A},
    "scope": {"generic": Scope, "keysight-infiniivision": KeysightInfiniiVision},
}

__all__ = [
    "MODELS", "AcLoad", "AcSource", "AnswerError", "Chroma61500", "Chroma63800", "Dmm",
    "InstrumentError", "InstrumentTimeout", "Keysight34461A", "KeysightInfiniiVision",
    "SafetyError", "Scope", "ScpiInstrument",
]
