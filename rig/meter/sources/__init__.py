"""Where a fact comes from: one reader class per kind of source, registered under its tag.

The profile declares, per fact, a source tag (register, display, instrument, operator, none;
see `meterprofile.fact_sources`); `rig.meter.fact_resolver.FactResolver` binds each
declaration to the reader class registered here under the same tag, the way labgrid binds a
driver to a resource (`@target_factory.reg_driver` and `bindings`). A reader class says

- what it needs from the bench (`needs`: "optical", "camera", "operator" or an instrument
  role), so the resolver can tell, once for every kind, whether the fact is offered here;
- how the report describes it (the declaration's `describe`);
- how it reads a fact (`read(fact) -> FactReading`);
- how it reads an entry's result, where a model gives entry results by it (`entry_result`);
- how text the meter shows is written by it (`shows`: the 7-segment form for the display).

A new kind of source is one file: a declaration class (`@declares(tag)` in meterprofile, or
the file's own) and a reader class (`@fact_source(tag)`); nothing else asks which kind a
fact has. A fact the meter does not offer raises `FactNotOffered` (a LookupError); the
pytest layer (`rig.plugin`) turns it into a skip naming the fact, a command into an error.
"""

from rig.meter.sources import (
    display_source,
    instrument_source,
    operator_source,
    register_source,
)
from rig.meter.sources.registry import (
    NEEDS,
    SOURCES,
    BenchAccess,
    FactNotOffered,
    FactReading,
    FactUnavailable,
    ReaderBase,
    ReadingBasis,
    fact_source,
    not_offered,
    parse_value,
    reader_for,
)

__all__ = [
    "NEEDS", "SOURCES", "BenchAccess", "FactNotOffered", "FactReading", "FactUnavailable",
    "ReaderBase", "ReadingBasis", "display_source", "fact_source", "instrument_source",
    "not_offered", "operator_source", "parse_value", "reader_for", "register_source",
]
