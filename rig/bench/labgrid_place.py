"""`rig run --place NAME`: a bench position on another PC, reached through labgrid.

A lab whose positions hang off several PCs exports each position with `labgrid-exporter`:
its meter's optical port and its keypad injector as RFC 2217 network serial ports
(`NetworkSerialPort`), its instruments as VISA resources (`PyVISADevice`, type + url), its
camera as an `HTTPVideoStream`. A labgrid place gathers one position's resources under the
names the rig knows (`optical`, `keypad`, `camera`, and the instrument roles: `source`,
`load`, `dmm`, ...; `labgrid-client add-named-match` renames them when the exporter
calls them otherwise).

`rig run --place NAME` acquires the place through the coordinator (`--coordinator
HOST:PORT`, else $LG_COORDINATOR, else labgrid's default 127.0.0.1:20408), builds a bench
file for the run: the bench file given (`--bench`, default the emulated one) for the meter,
its keys, the instrument models and the lab, with its ports and resources taken from the
place, and runs the plan on it. The place is released at the end however the run ends: a
pass, a failure, Ctrl-C or SIGTERM (a SIGKILL leaves it acquired: `labgrid-client -p NAME
release`). Before anything is acquired or started, a coordinator that does not answer (exit
1), a place that does not exist, one acquired by someone else, or one without a resource the
bench needs (exit 2) is one line naming it.

labgrid's client speaks gRPC, whose threads make a later fork() unsafe (the plan's pytest
child is forked): so `rig run` never loads it. Each exchange with the coordinator (acquire
and read the resources, release) is a short child process, `python -m
rig.bench.labgrid_place acquire|release HOST:PORT NAME`, which prints one JSON line; an
acquired place stays acquired in the coordinator between the two.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import importlib.util
import io
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_COORDINATOR = "127.0.0.1:20408"  # labgrid's own default
CLIENT_TIMEOUT_S = 60.0  # one exchange with the coordinator, at most
INSTALL_HINT = "pip install -e '.[labgrid]'"


class PlaceError(Exception):
    """A place that cannot be used; `code` is rig run's exit status for it."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


class Interrupted(Exception):
    """SIGINT, SIGTERM or SIGHUP arrived while a place was held outside the run itself."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@dataclass(frozen=True)
class PlaceResource:
    """One resource of an acquired place, as the exporter describes it."""

    name: str
    cls: str
    params: dict[str, Any]
    avail: bool = True


@dataclass
class HeldPlace:
    """A place this run acquired, and its resources by name."""

    name: str
    resources: dict[str, PlaceResource] = field(default_factory=dict)


# --- the coordinator -----------------------------------------------------------------------------

class Coordinator:
    """A labgrid client session: places looked up, acquired and released by name."""

    def __init__(self, address: str) -> None:
        try:
            from labgrid.remote.client import Error, start_session
        except ImportError:
            raise PlaceError(f"--place needs labgrid, which is not installed ({INSTALL_HINT})"
                             ) from None
        self.address = address
        self._error = Error
        args = argparse.Namespace(place=None, allow_unmatched=False, kick=False)
        try:
            with _quiet():
                self.session = start_session(address, extra={"args": args})
        except Exception as exc:
            raise PlaceError(f"no labgrid coordinator answers at {address} "
                             f"({_one_line(exc)})", code=1) from None

    def _call(self, what: str, method: Callable[[], Any]) -> None:
        """One client command of labgrid (acquire, release), its own output kept quiet."""
        try:
            with _quiet():
                self.session.loop.run_until_complete(method())
        except self._error as exc:
            raise PlaceError(f"{what}: {_one_line(exc)}") from None

    def check_free(self, name: str) -> None:
        """PlaceError unless the place exists (by its exact name) and nobody holds it."""
        places = self.session.places
        if name not in places:
            known = ", ".join(sorted(places)) or "none"
            raise PlaceError(f"--place {name}: no such place at the labgrid coordinator "
                             f"{self.address} (places: {known})")
        holder = places[name].acquired
        if holder:
            raise PlaceError(f"--place {name}: the place is acquired by {holder}; it is "
                             f"released with `labgrid-client -p {name} release` by its holder")

    def acquire(self, name: str) -> None:
        self.session.args.place = name
        self._call(f"--place {name}: cannot acquire", self.session.acquire)

    def resources(self, name: str) -> HeldPlace:
        """The resources of a place this session holds, by the name the place gives them."""
        try:
            found = self.session.get_target_resources(self.session.places[name])
        except self._error as exc:
            raise PlaceError(f"--place {name}: {_one_line(exc)}") from None
        held = HeldPlace(name)
        for (rname, cls), entry in found.items():
            held.resources[rname] = PlaceResource(rname, cls, dict(entry.args),
                                                  bool(entry.avail))
        return held

    def release(self, name: str) -> None:
        self.session.args.place = name
        self._call(f"--place {name}: cannot release", self.session.release)

    def close(self) -> None:
        with contextlib.suppress(Exception), _quiet():
            self.session.loop.run_until_complete(self.session.stop())
            self.session.loop.run_until_complete(self.session.close())


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """labgrid's client prints what it did and logs a lost coordinator on the root logger:
    the rig says it in its own words instead."""
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        logging.disable(previous)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text.removeprefix("Error: ")


def client_main(argv: list[str]) -> int:
    """`python -m rig.bench.labgrid_place acquire|release HOST:PORT NAME`: one exchange with
    the coordinator, in a process of its own; one JSON line: the resources acquired, or
    {"error": ..., "code": ...}."""
    command, address, name = argv
    try:
        coordinator = Coordinator(address)
        try:
            if command == "acquire":
                coordinator.check_free(name)
                coordinator.acquire(name)
                try:
                    held = coordinator.resources(name)
                except PlaceError:
                    coordinator.release(name)
                    raise
                out: dict[str, Any] = {"resources": [dataclasses.asdict(r) for r in
                                                     held.resources.values()]}
            else:
                coordinator.release(name)
                out = {"released": name}
        finally:
            coordinator.close()
    except PlaceError as exc:
        out = {"error": str(exc), "code": exc.code}
    print(json.dumps(out), flush=True)
    return 0


def _client(command: str, address: str, name: str) -> dict[str, Any]:
    """Run one exchange in a child (its own session: a Ctrl-C at the terminal reaches the
    rig, which finishes the exchange first); PlaceError for what it says went wrong."""
    try:
        proc = subprocess.run([sys.executable, "-m", "rig.bench.labgrid_place", command,
                               address, name], capture_output=True, text=True,
                              timeout=CLIENT_TIMEOUT_S, start_new_session=True)
    except subprocess.TimeoutExpired:
        raise PlaceError(f"no labgrid coordinator answers at {address} within "
                         f"{CLIENT_TIMEOUT_S:g} s ({command} {name}; the place may be left "
                         f"acquired: `labgrid-client -p {name} release`)", code=1) from None
    lines = proc.stdout.strip().splitlines()
    try:
        out = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        out = None
    if not isinstance(out, dict):
        why = (proc.stderr.strip().splitlines() or ["no answer"])[-1]
        raise PlaceError(f"--place {name}: the labgrid client failed ({why})", code=1)
    if "error" in out:
        raise PlaceError(str(out["error"]), int(out.get("code", 2)))
    return out


def acquire_place(address: str, name: str) -> HeldPlace:
    """Acquire a place (PlaceError if it cannot be had) and read its resources."""
    out = _client("acquire", address, name)
    held = HeldPlace(name)
    for item in out["resources"]:
        held.resources[item["name"]] = PlaceResource(**item)
    return held


def release_place(address: str, name: str) -> None:
    _client("release", address, name)


# --- signals -------------------------------------------------------------------------------------

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """While a place is held: a stop signal raises Interrupted where the code is, so the
    `finally` that releases the place runs. (rig run's own handlers take over while pytest
    runs, passing the signal on to it.)"""

    def handler(signum: int, frame: Any) -> None:
        raise Interrupted(signum)

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextlib.contextmanager
def signals_deferred() -> Iterator[list[int]]:
    """Around a coordinator exchange (acquire, release): a stop signal is noted, not acted
    on, so the exchange is never cut in half; the caller looks at the list afterwards."""
    seen: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: seen.append(signum))
                for sig in STOP_SIGNALS}
    try:
        yield seen
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


# --- the bench file built from a place -----------------------------------------------------------

def serial_url(res: PlaceResource, place: str) -> str:
    """The pyserial URL of a NetworkSerialPort (rfc2217://, or socket:// for raw TCP)."""
    host, port = res.params.get("host"), res.params.get("port")
    if not host or not isinstance(port, int):
        raise PlaceError(f"--place {place}: resource {res.name!r} has no host and port")
    protocol = res.params.get("protocol", "rfc2217")
    if protocol not in ("rfc2217", "raw"):
        raise PlaceError(f"--place {place}: resource {res.name!r} has protocol {protocol!r} "
                         "(rfc2217 or raw)")
    return f"{'socket' if protocol == 'raw' else 'rfc2217'}://{host}:{port}"


def visa_resource(res: PlaceResource, place: str) -> str:
    """The VISA resource of a PyVISADevice: TYPE::URL (TCPIP::10.0.0.5::5025::SOCKET)."""
    kind, url = res.params.get("type"), res.params.get("url")
    if not kind or not url:
        raise PlaceError(f"--place {place}: resource {res.name!r} has no type and url")
    return f"{kind}::{url}"


#: the labgrid resource class each bench part takes
CLASS_OF = {"optical": "NetworkSerialPort", "keypad": "NetworkSerialPort",
            "camera": "HTTPVideoStream"}
INSTRUMENT_CLASS = "PyVISADevice"


def _resource(held: HeldPlace, name: str, cls: str, needed_by: str) -> PlaceResource:
    res = held.resources.get(name)
    if res is None:
        offered = ", ".join(f"{r.name} ({r.cls})" for r in held.resources.values()) or "none"
        raise PlaceError(f"--place {held.name}: the place has no resource {name!r} ({cls}) "
                         f"for {needed_by} (it has: {offered})")
    if res.cls != cls:
        raise PlaceError(f"--place {held.name}: resource {name!r} is a {res.cls}; "
                         f"{needed_by} needs a {cls}")
    if not res.avail:
        raise PlaceError(f"--place {held.name}: resource {name!r} is not available "
                         "(its exporter is offline?)", code=1)
    return res


def bench_data(template: Path, held: HeldPlace) -> dict[str, Any]:
    """The bench file's tables for a run on the place: the template's meter, keys, models,
    lab and report settings; the place's ports and resources; a real bench (its clock
    speed set by `place_speed`)."""
    with template.open("rb") as fh:
        data = tomllib.load(fh)
    base = template.resolve().parent
    info = data.setdefault("bench", {})
    info["name"] = f"{info.get('name', 'bench')} @ labgrid place {held.name}"
    info["emulated"] = False
    info.pop("faults", None)
    meter = data.setdefault("meter", {})
    meter["optical"] = serial_url(
        _resource(held, "optical", CLASS_OF["optical"], "the meter's optical port"), held.name)
    if "camera" in held.resources:
        camera = _resource(held, "camera", CLASS_OF["camera"], "the meter's camera")
        meter["camera"] = str(camera.params.get("url", ""))
    profile = meter.get("profile")
    if isinstance(profile, str) and (base / profile).is_file():
        meter["profile"] = str(base / profile)  # a profile beside the template stays found
    keys = meter.get("keys", {})
    for name in ("vending_key", "vending_key_128bit"):
        ref = keys.get(name)
        if (isinstance(ref, str) and ref.startswith("file:")
                and not Path(ref[5:].strip()).is_absolute()):
            keys[name] = f"file:{base / ref[5:].strip()}"
    if "keypad" in data:
        data["keypad"]["port"] = serial_url(
            _resource(held, "keypad", CLASS_OF["keypad"], "the keypad injector"), held.name)
    instruments = data.get("instruments", {})
    for role, table in list(instruments.items()):
        table = {"resource": table} if isinstance(table, str) else table
        res = _resource(held, role, INSTRUMENT_CLASS, f"the {role} ([instruments.{role}])")
        table["resource"] = visa_resource(res, held.name)
        instruments[role] = table
    return data


CLOCK_SAMPLE_S = 1.0  # real seconds between the two reads of the place's clock
CLOCK_READS = 3  # reads at each end; the one with the shortest round trip is kept
CLOCK_AGREES = 0.05  # a measured clock within 5 % of the bench file's is the bench file's


def _clock_pair(keypad: Any) -> tuple[float, float]:
    """(bench time, real time) at one moment: the injector's clock against the midpoint of
    the exchange that read it, from the read with the shortest round trip."""
    best: tuple[float, float, float] | None = None
    for _ in range(CLOCK_READS):
        before = time.monotonic()
        bench = keypad.time()
        after = time.monotonic()
        if best is None or after - before < best[0]:
            best = (after - before, bench, (before + after) / 2)
    assert best is not None
    return best[1], best[2]


def measured_speed(keypad_url: str, place: str) -> float:
    """The place's bench clock, in times real time, from reads of its keypad injector's
    clock a second apart: an emulated position exported at `--speed 50` runs at 50x
    whatever the bench file says, and a real injector's clock is real time (1x)."""
    from drivers.keypad import KeypadError, KeypadInjector

    try:
        with KeypadInjector(keypad_url) as keypad:
            bench0, real0 = _clock_pair(keypad)
            time.sleep(CLOCK_SAMPLE_S)
            bench1, real1 = _clock_pair(keypad)
    except KeypadError as exc:
        raise PlaceError(f"--place {place}: cannot read the clock of its keypad injector "
                         f"({exc})", code=1) from None
    speed = (bench1 - bench0) / (real1 - real0)
    if not speed > 0:
        raise PlaceError(f"--place {place}: its keypad injector's clock does not advance "
                         f"({bench0:g} s, then {bench1:g} s)", code=1)
    return float(f"{speed:.3g}")


def place_speed(data: dict[str, Any], held: HeldPlace, given: float | None) -> float:
    """The clock speed of the bench built from a place: `--speed` if given, else the clock
    measured on the place's injector (the bench file's figure when they agree), else the
    bench file's."""
    declared = float(data.get("bench", {}).get("speed", 1.0))
    if given is not None:
        return given
    if "keypad" not in data:
        return declared
    measured = measured_speed(data["keypad"]["port"], held.name)
    if abs(measured / declared - 1) <= CLOCK_AGREES:
        return declared
    print(f"rig run: the clock of place {held.name} runs at {measured:g} times real time "
          f"(measured on its keypad injector), not the bench file's {declared:g}: "
          f"{measured:g} is used", flush=True)
    return measured


def write_bench(data: dict[str, Any], folder: Path, place: str) -> Path:
    path = folder / f"place-{_safe(place)}.toml"
    path.write_text(f"# built by rig run --place {place} from its labgrid resources\n"
                    + toml_text(data), encoding="utf-8")
    return path


def toml_text(data: dict[str, Any], prefix: str = "") -> str:
    """A TOML document of nested tables (strings, numbers, booleans, dates, arrays)."""
    lines = [f"{_key(k)} = {_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    out = "\n".join(lines) + ("\n" if lines else "")
    for k, v in data.items():
        if isinstance(v, dict):
            name = f"{prefix}.{_key(k)}" if prefix else _key(k)
            out += f"\n[{name}]\n" + toml_text(v, name)
    return out


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
    return json.dumps(str(value), ensure_ascii=False)


# --- rig run --place -----------------------------------------------------------------------------

def argv_for_bench(argv: list[str], bench: Path) -> list[str]:
    """rig run's arguments with --place, --coordinator, --bench and --speed (before any
    `--`) replaced by the built bench file, which holds the place's clock speed."""
    out: list[str] = []
    skip = False
    rest: list[str] = []
    for i, arg in enumerate(argv):
        if arg == "--":
            rest = argv[i:]
            break
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in ("--place", "--coordinator", "--bench", "--speed"):
            skip = "=" not in arg
            continue
        out.append(arg)
    return ["--bench", str(bench), *out, *rest]


def run_on_places(args: argparse.Namespace, argv: list[str],
                  run: Callable[[list[str]], int],
                  parser: Callable[[], argparse.ArgumentParser], *,
                  worker_args: Callable[[Any, list[str], Path], list[str]] | None = None,
                  exit_codes: dict[int, int] | None = None, internal: int = 3) -> int:
    """Acquire the places, run the plan on the bench built from each, release them; the
    exit status of `rig run`. One place runs as one `rig run`; several run at once as
    positions (rig.bench.positions: a worker each, the batch summary), `worker_args` being
    one position's pytest line."""
    from rig.bench.config import ConfigError, load_bench

    names: list[str] = list(dict.fromkeys(args.place))
    if len(names) > 1 and worker_args is None:
        return _fail("several --place need the positions runner")
    try:
        template = load_bench(args.bench).path
    except (ConfigError, ValueError, OSError) as exc:
        return _fail(str(exc))
    if importlib.util.find_spec("labgrid") is None:
        return _fail(f"--place needs labgrid, which is not installed ({INSTALL_HINT})")
    address = args.coordinator or os.environ.get("LG_COORDINATOR") or DEFAULT_COORDINATOR
    folder = Path(tempfile.mkdtemp(prefix="rig-place-"))
    held: list[str] = []
    try:
        with signals_raise():
            benches: list[Path] = []
            for name in names:
                with signals_deferred() as seen:
                    place = acquire_place(address, name)
                    held.append(name)
                print(f"rig run: acquired labgrid place {name} ({address})", flush=True)
                if seen:
                    raise Interrupted(seen[0])
                data = bench_data(template, place)
                data["bench"]["speed"] = place_speed(data, place, args.speed)
                if len(names) > 1 and args.meters:  # each meter's PAN is read at bring-up
                    data["meter"].pop("pan", None)
                benches.append(write_bench(data, folder, name))
            new_argv = argv_for_bench(argv, benches[0])
            again, extra = parser().parse_known_args(new_argv)
            if getattr(again, "place", None) or getattr(again, "coordinator", None):
                return _fail("write --place and --coordinator in full (not abbreviated)")
            if len(names) == 1:
                return run(new_argv)
            assert worker_args is not None
            return _run_as_positions(again, extra, names, benches, worker_args=worker_args,
                                     exit_codes=exit_codes or {}, internal=internal)
    except PlaceError as exc:
        return _fail(str(exc), exc.code)
    except (Interrupted, KeyboardInterrupt) as exc:
        name = str(exc) if isinstance(exc, Interrupted) else "SIGINT"
        print(f"rig run: stopped by {name} before the run started", file=sys.stderr)
        return 130
    finally:
        _release_all(address, held)
        shutil.rmtree(folder, ignore_errors=True)


def _run_as_positions(args: argparse.Namespace, extra: list[str], names: list[str],
                      benches: list[Path], *,
                      worker_args: Callable[[Any, list[str], Path], list[str]],
                      exit_codes: dict[int, int], internal: int) -> int:
    """Several places at once: place K (in the order given) is position K, its worker on
    the bench built from it; the batch summary and the results database as for
    `--positions`."""
    import time as clock

    from rig.bench.positions import PositionRun, run_batch
    from rig.record.run_folder import RunFolderError, make_run_dir

    if args.fault:
        return _fail("--fault applies to an emulated bench only; a place is run as a real "
                     "bench")
    base = Path(args.reports).resolve()
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    started = clock.monotonic()
    try:
        batch_dir = make_run_dir(base, f"{stamp}-batch")
        runs = [PositionRun(position=k, pan="", meter_number=f"on place {name}", faults=(),
                            run_dir=make_run_dir(base, f"{stamp}-{_safe(name)}"),
                            log_path=batch_dir / f"place-{_safe(name)}.log", endpoints={})
                for k, name in enumerate(names, start=1)]
    except RunFolderError as exc:
        return _fail(f"--reports {args.reports}: {exc}")
    print(f"rig run: {len(runs)} places as positions, each in its own worker; consoles in "
          f"{batch_dir}", flush=True)
    return run_batch(args, extra, runs, base=base, batch_dir=batch_dir,
                     worker_args=worker_args, exit_codes=exit_codes, internal=internal,
                     meters=args.meters, started=started,
                     benches={run.position: bench for run, bench in
                              zip(runs, benches, strict=True)})


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def _release_all(address: str, held: list[str]) -> None:
    """Release every place held, whatever happened; a signal waits until it is done."""
    with signals_deferred():
        for name in held:
            try:
                release_place(address, name)
                print(f"rig run: released labgrid place {name}", flush=True)
            except PlaceError as exc:
                print(f"rig run: {exc}", file=sys.stderr)


def _fail(message: str, code: int = 2) -> int:
    print(f"rig run: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(client_main(sys.argv[1:]))
