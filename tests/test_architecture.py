"""The tree's architecture, as tests (issue 15): a new kind of fact source is one file; the
module graph has no cycle and no layer imports upwards; no module outside a registry asks
which class a fact source or an instrument is.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("rig", "drivers", "emulator", "meterprofile", "sts", "firmware")


# --- (a) a new kind of fact source, in one file -----------------------------------------------

def _bench_file(tmp_path: Path, emu) -> Path:
    return emu.bench_file(tmp_path / "bench.toml", "architecture test")


def test_a_new_fact_source_kind_is_one_file_and_a_plan_reads_through_it(start_emulator,
                                                                      tmp_path):
    from fixed_source import FixedFact  # registers tag "fixed" (declaration and reader)

    from meterprofile import PACKAGE_DIR, load_profile
    from rig.bench.config import load_bench
    from rig.bench.devices import open_bench
    from rig.meter.sources import SOURCES
    from rig.meter.under_test import FactNotOffered, MeterUnderTest

    assert SOURCES["fixed"] is FixedFact
    old = '[facts.firmware]\nsource = "register"               # firmware version\n' \
          'address = "0.2.0"                 # OBIS firmware\n'
    text = (PACKAGE_DIR / "pln_default.toml").read_text()
    assert old in text
    profile_file = tmp_path / "fixed_meter.toml"
    profile_file.write_text(text.replace(old, '[facts.firmware]\nsource = "fixed"\n'
                                              'value = "7.7-fixed"\n'))
    profile = load_profile(profile_file)
    described = {key: value for key, value, _ in profile.as_table()}  # the report's table
    assert described["facts.firmware"] == "fixed 7.7-fixed"

    emu = start_emulator("--speed", "50")
    with open_bench(load_bench(_bench_file(tmp_path, emu))) as bench:
        dut = MeterUnderTest(bench, profile)
        # the plan's view: a fact, never where it comes from
        assert dut.fact("firmware") == "7.7-fixed"
        assert dut.via("firmware", "meter_number") == " [fixed 7.7-fixed; register C.1.0]"
        assert dut.fact("meter_number") == "47123456783"  # a register, over the real wire
        assert dut.offers("firmware") and dut.reports("firmware")
        assert dut.facts.last["firmware"].kind == "fixed"
        # the new kind gives no entry results: not offered, said by the meter layer
        with pytest.raises(FactNotOffered, match="fixed source gives no entry results"):
            dut.facts._reader("firmware").entry_result(dut, "12#", None, None, False)
        assert dut.entry("12#", code=True).how == "register C.52.0"  # as declared: untouched

    entry = ('[facts.entry_result]\nsource = "register"               # rig-defined: the '
             'Outcome value\naddress = "C.52.0"                # e.g. CRC_ERROR\n')
    assert entry in text
    profile_file.write_text(text.replace(entry, '[facts.entry_result]\nsource = "fixed"\n'
                                                'value = "ACCEPT"\n'))
    with pytest.raises(ValueError, match=r"'facts.entry_result': an entry result is not fixed"):
        load_profile(profile_file)
    with pytest.raises(ValueError, match=r"'facts.firmware.valu'"):
        profile_file.write_text(text.replace(old, '[facts.firmware]\nsource = "fixed"\n'
                                                  'valu = "x"\n'))
        load_profile(profile_file)


def test_a_fact_not_offered_is_the_meter_layers_error_and_the_plugin_skips_it():
    """The meter layer knows nothing of pytest; the pytest layer turns its error into a
    skip (rig/plugin/fixtures.py), and the meter and plugin modules do not import each
    other."""
    for path in [*(ROOT / "rig/meter").rglob("*.py"), *(ROOT / "rig/commands").rglob("*.py")]:
        assert "pytest" not in _imports_of(path), path  # the commands catch FactNotOffered
    meter_imports = _imports_of(ROOT / "rig/meter/under_test.py")
    assert not any(m.startswith("rig.plugin") for m in meter_imports)
    from rig.meter.sources import FactNotOffered, FactUnavailable

    assert FactUnavailable is FactNotOffered and issubclass(FactNotOffered, LookupError)


# --- (b) no import cycle, no upward import ------------------------------------------------------

def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports_of(path: Path, name: str | None = None) -> set[str]:
    """Every module `path` imports, at the top or inside a function (a lazy import is a
    dependency too); `from a import b` counts as a.b where that is a module."""
    if name is None:
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                found.add(sub if sub in MODULES else module)
    return found


def _graph() -> dict[str, set[str]]:
    return {name: {m for m in _imports_of(path, name) if m in MODULES and m != name}
            for name, path in MODULES.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(graph)))
    try:
        for v in sorted(graph):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)
    return found


def test_the_module_graph_has_no_cycle():
    graph = _graph()
    assert len(graph) > 100  # the walk found the tree
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


#: layer -> the packages of ours it must never import (data flows testplans -> rig ->
#: drivers -> wire -> emulated meter; sts and the profile vocabulary are leaves)
FORBIDDEN = {
    "sts": {"rig", "drivers", "emulator", "meterprofile", "testplans", "firmware"},
    "drivers": {"rig", "emulator", "testplans", "firmware"},
    "emulator": {"rig", "testplans"},
    "meterprofile": {"rig", "drivers", "emulator", "testplans", "firmware"},
    "firmware": {"rig", "drivers", "emulator", "meterprofile", "sts", "testplans"},
    "rig": {"testplans"},  # (rig emulate and an emulated bench start the emulator)
}


def test_no_layer_imports_upwards():
    upward = []
    for name, path in sorted(MODULES.items()):
        layer = name.split(".")[0]
        for module in _imports_of(path, name):
            if module.split(".")[0] in FORBIDDEN.get(layer, ()):
                upward.append(f"{name} -> {module}")
    assert upward == []


# --- no two modules of the same name for different things ------------------------------------

#: names shared by modules that hold one thing seen from two sides (the driver and the
#: emulated device it talks to, the rig running bench positions and the emulator serving
#: them), or the same part every such package has (its registry, its errors, its __main__)
SAME_THING = {"optical", "keypad", "camera", "relayboard", "scope_rigol", "positions",
              "registry", "errors", "__main__"}
#: different things under one name, still to be renamed (issue 15): this list only shrinks
KNOWN_HOMONYMS: dict[str, set[str]] = {}


def _modules_by_name() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for package in (*PACKAGES, "testplans"):
        for path in (ROOT / package).rglob("*.py"):
            if path.name != "__init__.py":
                found.setdefault(path.stem, set()).add(str(path.relative_to(ROOT)))
    return {name: paths for name, paths in found.items() if len(paths) > 1}


def test_no_two_modules_share_a_name_for_different_things():
    shared = _modules_by_name()
    assert "optical" in shared  # the walk found the driver and the emulated port
    new = {name: sorted(paths) for name, paths in shared.items()
           if name not in SAME_THING and paths != KNOWN_HOMONYMS.get(name)}
    assert new == {}
    gone = sorted(name for name, paths in KNOWN_HOMONYMS.items() if shared.get(name) != paths)
    assert gone == [], "renamed: take these off KNOWN_HOMONYMS"
    for name in ("bench", "facts", "display", "operator"):  # the four
        assert name not in shared


def test_the_plan_session_holds_its_concerns_together_and_does_none_of_them():
    """RigSession keeps the run's record; the run's setup, the bring-up, the PAN check and
    the stop signals are modules of their own (rig/bench/run_setup.py, bring_up.py,
    pan_check.py, stop_signals.py), which it uses."""
    session = _imports_of(ROOT / "rig/bench/session.py")
    assert {"rig.bench.run_setup", "rig.bench.bring_up", "rig.bench.pan_check",
            "rig.bench.stop_signals"} <= session
    doing = {"signal", "drivers.optical", "drivers.keypad", "rig.bench.meters_file",
             "rig.meter.fact_resolver", "meterprofile", "rig.bench.config"} & session
    assert doing == set()


# --- (c) no isinstance on a source or instrument class outside its registry --------------------

#: the modules that may ask which class a fact source or an instrument is
REGISTRIES = {"meterprofile/fact_sources.py", "rig/meter/sources/registry.py",
              "drivers/instruments/registry.py", "drivers/instruments/__init__.py"}


def _guarded_class_names() -> set[str]:
    import drivers.instruments as instruments
    from drivers.instruments.base import ScpiInstrument
    from meterprofile.fact_sources import DECLARATIONS, Declared
    from rig.meter.sources import SOURCES, ReaderBase

    names = {cls.__name__ for cls in (*DECLARATIONS.values(), *SOURCES.values())}
    names |= {Declared.__name__, ReaderBase.__name__, ScpiInstrument.__name__}
    names |= {obj.__name__ for obj in vars(instruments).values()
              if isinstance(obj, type) and issubclass(obj, ScpiInstrument)}

    def subclasses(cls: type) -> set[type]:
        return {cls} | {s for c in cls.__subclasses__() for s in subclasses(c)}

    names |= {cls.__name__ for cls in subclasses(ScpiInstrument)}
    return names


def _names_in(node: ast.expr) -> set[str]:
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, ast.Attribute):
        return {node.attr}
    if isinstance(node, ast.Tuple | ast.BinOp):
        parts = node.elts if isinstance(node, ast.Tuple) else [node.left, node.right]
        return set().union(*(_names_in(p) for p in parts))
    return set()


def test_no_isinstance_on_a_source_or_instrument_class_outside_its_registry():
    guarded = _guarded_class_names()
    assert {"RegisterSource", "RegisterFact", "DisplayFact"} <= guarded
    assert len(guarded) > 12  # the instrument classes too
    asks = []
    for path in sorted(p for package in (*PACKAGES, "testplans")
                       for p in (ROOT / package).rglob("*.py")):
        relative = str(path.relative_to(ROOT))
        if relative in REGISTRIES:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("isinstance", "issubclass") and len(node.args) == 2):
                hit = _names_in(node.args[1]) & guarded
                if hit:
                    asks.append(f"{relative}:{node.lineno} {node.func.id} {sorted(hit)}")
    assert asks == []


def test_the_isinstance_finder_finds_one():
    tree = ast.parse("isinstance(src, (RegisterSource, int))")
    call = tree.body[0].value
    assert _names_in(call.args[1]) == {"RegisterSource", "int"}


# --- the docs' worked examples match the code ---------------------------------------------------

def _blocks(language: str) -> list[str]:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    parts = text.split(f"```{language}\n")[1:]
    return [part.split("```", 1)[0] for part in parts]


def test_the_docs_fact_source_example_is_the_test_only_source():
    example = next(b for b in _blocks("python") if "@fact_source(\"fixed\")" in b)
    source = {line.strip() for line in (ROOT / "tests" / "fixed_source.py").read_text(
        encoding="utf-8").splitlines()}
    missing = [line for line in example.splitlines()
               if line.strip() and not line.lstrip().startswith("#") and line.strip() not in source]
    assert missing == []


def test_the_docs_bench_position_loads_as_a_bench_file(tmp_path):
    from rig.bench.config import load_bench

    example = next(b for b in _blocks("toml") if "[instruments.dmm]" in b)
    path = tmp_path / "lab3.toml"
    path.write_text(example)
    config = load_bench(path)
    assert config.meter.optical == "/dev/ttyUSB0"
    assert set(config.instruments) == {"source", "dmm"}


def test_the_docs_instrument_model_declares_what_the_registry_asks():
    from drivers.instruments import Dmm
    from drivers.instruments.accuracy import Specification

    example = next(b for b in _blocks("python") if "class AcmeDmm100" in b)
    tree = ast.parse(example)
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef))
    assert [b.id for b in cls.bases if isinstance(b, ast.Name)] == [Dmm.__name__]
    declared = {t.id for n in cls.body if isinstance(n, ast.Assign | ast.AnnAssign)
                for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
                if isinstance(t, ast.Name)}
    assert {"MODEL", "DESIGNATION", "ACCURACY"} <= declared
    assert "Specification" in example and Specification.__name__ == "Specification"
    assert hasattr(Dmm, "measure_voltage_ac") and hasattr(Dmm, "configure")


def test_the_docs_plan_example_uses_names_that_exist():
    from rig.meter.under_test import MeterUnderTest, record_outcome

    example = next(b for b in _blocks("python") if "def test_a_replayed_token" in b)
    compile(example, "architecture.md", "exec")
    assert callable(record_outcome)
    for method in ("enter", "credit"):
        assert hasattr(MeterUnderTest, method)


def test_the_docs_meter_model_example_declares_known_keys_and_sources():
    import dataclasses
    import tomllib

    from meterprofile import MeterInfo
    from meterprofile.fact_catalogue import FACTS
    from meterprofile.fact_sources import declaration

    example = next(b for b in _blocks("toml") if "[facts.credit]" in b)
    data = tomllib.loads(example)
    assert set(data["meter"]) <= {f.name for f in dataclasses.fields(MeterInfo)}
    for name, table in data["facts"].items():
        assert name in FACTS
        declared = declaration(table)
        assert declared.problems(name, FACTS[name].kind, {"ACCEPT": "BENAR"}) == []
