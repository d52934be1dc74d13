"""The `report_context` line of the run record: what the signed report needs beyond the
measurements, written once at the start of a run (right after `run_start`).

Lab, customer, operator, conditions and decision rule come from the bench file (`[lab]`,
`[customer]`, `[operator]`, `[environment]`, `[report]`, read with getattr so an older bench
config without them still works) and `rig run --operator`; the plan's version is the rig
version, the git commit of a checkout and a SHA-256 over the plan files run; the selection
(tests left out by -k/-m/--rig-only-faults or by naming files) makes a partial run's stamp.
The report is rendered from the record alone, so all of it is written down here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
import subprocess
from pathlib import Path
from typing import Any

SECRET_DECLARED = re.compile(r"password|secret|vending_key", re.I)


def _table(obj: Any) -> dict[str, Any] | None:
    """A config table (dataclass) as a dict of its non-empty fields; None when absent."""
    if obj is None:
        return None
    if dataclasses.is_dataclass(obj):
        data = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    elif isinstance(obj, dict):
        data = dict(obj)
    else:
        return None
    return {k: v for k, v in data.items() if v not in (None, "")}


def local_now() -> dt.datetime:
    """Now in the machine's time zone, with its offset."""
    return dt.datetime.now().astimezone()


def git_commit(where: Path) -> str | None:
    """The checkout's commit (with "+changes" when the plan files differ from it)."""
    try:
        head = subprocess.run(["git", "-C", str(where), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=5)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(where), "status", "--porcelain", "--",
                                str(where)], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = head.stdout.strip()
    return commit + ("+changes" if dirty.stdout.strip() else "")


def plan_hash(files: list[Path]) -> str:
    """SHA-256 over the plan files run, each as its name then its bytes, sorted by name."""
    digest = hashlib.sha256()
    for path in sorted(files, key=lambda p: p.name):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def declared_sources(profile_file: Path | None) -> dict[str, str]:
    """`table.key` -> the comment beside it in the profile TOML (its source tag)."""
    if profile_file is None or not profile_file.is_file():
        return {}
    out: dict[str, str] = {}
    table = ""
    for raw in profile_file.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        head = re.match(r"^\[([\w.]+)\]", line)
        if head:
            table = head.group(1)
            continue
        item = re.match(r"^(\w+)\s*=\s*(?:\"[^\"]*\"|[^#]*)#\s*(.*)$", line)
        if item and table:
            out[f"{table}.{item.group(1)}"] = item.group(2).strip()
    return out


def selection_reason(argv: list[str]) -> str:
    """Why tests were deselected, from the pytest arguments (-k, -m, --rig-only-faults)."""
    reasons = []
    for i, arg in enumerate(argv):
        for flag in ("-k", "-m", "--rig-only-faults", "--deselect"):
            if arg == flag and i + 1 < len(argv):
                reasons.append(f"{flag} {argv[i + 1]}")
            elif arg.startswith(flag + "=") or (flag in ("-k", "-m") and arg.startswith(flag)
                                                and len(arg) > 2 and arg[2] != "-"):
                value = arg.split("=", 1)[1] if "=" in arg[:len(flag) + 1] else arg[len(flag):]
                reasons.append(f"{flag} {value}")
    return ", ".join(reasons) or "deselected"


def _markers(item: Any, name: str) -> list[str]:
    return [str(a) for mark in item.iter_markers(name) for a in mark.args]


def meter_number(pan: str) -> str:
    """The meter number (DRN) of a MeterPAN, by its parts (IIN 600727: 11 digits, IIN 0000:
    13); the PAN as given when it is not one."""
    from sts.pan import MeterPAN

    try:
        return MeterPAN.parse(pan).drn
    except ValueError:
        return pan


def specifications(identity: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """model -> function -> the accuracy specification used, for each instrument model of
    the bench: the report of this record shows these, whatever the code says later."""
    from rig.record.uncertainty import specification_record

    models = {inst.get("model") for inst in (identity.get("instruments") or {}).values()}
    return {m: specification_record(m) for m in sorted(x for x in models if x)}


def _signatory(text: str | None) -> dict[str, str] | None:
    if not text:
        return None
    name, _, function = text.partition(",")
    return {"name": name.strip(), "function": function.strip() or "authorised signatory",
            "source": "rig run --signatory"}


def _environment(config: Any, run_facts: dict[str, Any]) -> dict[str, Any] | None:
    """The bench file's [environment], with this run's --temperature / --humidity over it."""
    env = _table(getattr(config, "environment", None)) or {}
    given = {}
    for key, field_name in (("temperature", "temperature_c"), ("humidity", "humidity_pct")):
        if run_facts.get(key) not in (None, ""):
            given[field_name] = float(run_facts[key])
    if given:
        env = {**env, **given, "source": "rig run --temperature/--humidity"}
    return env or None


def build_context(config: Any, rig: Any, *, deselected: list[Any], items: list[Any],
                  argv: list[str], operator: str | None,
                  run_facts: dict[str, Any] | None = None) -> dict[str, Any]:
    """The fields of the `report_context` line (config: the bench config; rig: the
    RigSession; items/deselected: the pytest items run and left out; run_facts: this run's
    item condition, date received, ambient conditions and signatory)."""
    from rig.record.measures import declared_of, title_of

    run_facts = run_facts or {}
    profile = rig.profile
    meter_info = getattr(profile, "meter", None)
    ident = rig.identity.get("meter", {}) if rig.identity else {}
    pan = config.meter.pan
    settings = getattr(config, "report", None)
    bench_operator = getattr(getattr(config, "operator", None), "name", None)
    now = local_now()
    files = sorted({Path(str(i.path)) for i in items if getattr(i, "path", None)})
    # the plan folder is the one the tests ran from (an installed rig ships no testplans/)
    folders = {f.parent for f in files}
    plan_dir = folders.pop() if len(folders) == 1 else None
    plan_files = sorted(plan_dir.glob("test_*.py")) if plan_dir is not None else []
    collected = {Path(str(i.path)).name for i in [*items, *deselected]
                 if getattr(i, "path", None)}
    not_run_files = [f.name for f in plan_files if f.name not in collected]
    from meterprofile import profile_path

    try:
        profile_file = profile_path(config.meter.profile, Path(config.path).parent)
    except (OSError, ValueError):
        profile_file = None
    return {
        "title": getattr(settings, "title", None) or "Test report",
        "decision_rule": getattr(settings, "decision_rule", None) or "simple",
        "lab": _table(getattr(config, "lab", None)),
        "customer": _table(getattr(config, "customer", None)),
        "operator": operator or bench_operator,
        "operator_source": "rig run --operator" if operator else
                           ("bench file [operator]" if bench_operator else None),
        "environment": _environment(config, run_facts),
        "timezone": now.tzname(), "utc_offset": now.strftime("%z"),
        "started_local": now.isoformat(timespec="seconds"),
        "plan": {"rig_version": rig.identity.get("rig_version") if rig.identity else None,
                 "git_commit": git_commit(plan_dir) if plan_dir is not None else None,
                 "sha256": plan_hash(files) if files else None,
                 "files": [f.name for f in files]},
        "item": {"maker": getattr(meter_info, "manufacturer", None),
                 "model": getattr(meter_info, "model", None),
                 "serial": meter_number(pan), "pan": pan,
                 "firmware": ident.get("firmware") or getattr(meter_info, "firmware", None),
                 "firmware_source": "read from the meter" if ident.get("firmware")
                                    else "declared (profile)",
                 "profile": profile.name,
                 "condition": run_facts.get("item_condition")
                              or getattr(config.meter, "condition", None),
                 "received": run_facts.get("item_received")},
        "signatory": _signatory(run_facts.get("signatory")),
        "specifications": specifications(rig.identity or {}),
        "selected": [{"test": i.nodeid, "clauses": _markers(i, "clause"),
                      "title": title_of(i), "faults": _markers(i, "faults"),
                      "measures": [d.to_record() for d in declared_of(i)]} for i in items],
        "deselected": [{"test": i.nodeid, "clauses": _markers(i, "clause"),
                        "title": title_of(i), "reason": selection_reason(argv)}
                       for i in deselected],
        "files_not_run": not_run_files,
        "declared_sources": declared_sources(profile_file),
        "declared_hidden": [k for k, _, _ in profile.as_table() if SECRET_DECLARED.search(k)],
    }


def write_context(pytest_config: Any, rig: Any, items: list[Any]) -> None:
    """Write the `report_context` line; never stops a run (a failure is noted instead)."""
    if rig.record is None:
        return
    reporter = pytest_config.pluginmanager.get_plugin("terminalreporter")
    deselected = list(getattr(reporter, "stats", {}).get("deselected", [])) if reporter else []
    argv = [str(a) for a in pytest_config.invocation_params.args]
    operator = getattr(pytest_config.option, "rig_operator", None)
    opt = pytest_config.option
    run_facts = {name: getattr(opt, f"rig_{name}", None) for name in
                 ("item_condition", "item_received", "temperature", "humidity", "signatory")}
    try:
        data = build_context(rig.bench_config, rig, deselected=deselected, items=items,
                             argv=argv, operator=operator, run_facts=run_facts)
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        data = {"error": f"report context not recorded: {exc}"}
    rig.record.write("report_context", **data)
