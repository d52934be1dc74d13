"""`rig run --place NAME`: a position on another PC, acquired through labgrid, released at the end.

The lab is built here as a lab would build it, every part a process on 127.0.0.1: the emulated
bench (`python -m emulator`), its optical port and keypad injector served as RFC 2217 network
serial ports (`python -m emulator.network_serial`), a `labgrid-coordinator`, and a
`labgrid-exporter` exporting the position (NetworkSerialPort, PyVISADevice, HTTPVideoStream).
A place is made with `labgrid-client create` and `add-match`; `rig run --place` then runs a
plan on it, and `labgrid-client show` says whether the place is still acquired.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rig.bench.labgrid_place import argv_for_bench, toml_text

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PLACE = "bench-a"
PLACE_B = "bench-b"  # a second position, on the same exporter

#: a plan that stays in its second test until stopped (a mark file says it got there)
LONG_PLAN = '''
import time
from pathlib import Path

import pytest

MARK = Path({mark!r})


@pytest.mark.clause("C")
def test_first(record, bench):
    record("source idn", bench.instrument("source").idn, nominal=bench.instrument("source").idn)


@pytest.mark.clause("C")
def test_long(record, bench):
    MARK.write_text("in test_long")
    time.sleep(120)
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what: str, check, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Lab:
    coordinator: str
    folder: Path
    optical_url: str

    def client(self, *args: str, user: str | None = None) -> subprocess.CompletedProcess:
        env = dict(os.environ, LG_COORDINATOR=self.coordinator)
        if user:
            env["LG_USERNAME"] = user
        return subprocess.run([str(BIN / "labgrid-client"), *args], env=env, text=True,
                              capture_output=True, timeout=30)

    def holder(self) -> str:
        """`acquired: ...` of the place, as labgrid-client shows it."""
        shown = self.client("-p", PLACE, "show")
        assert shown.returncode == 0, shown.stderr
        return next(line.split(":", 1)[1].strip() for line in shown.stdout.splitlines()
                    if line.strip().startswith("acquired:"))

    def rig_run(self, *args: str) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "rig", "run", "--coordinator", self.coordinator,
               "--reports", str(self.folder / "reports"), "-p", "no:hypothesispytest", *args]
        return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)


def _start(cmd: list[str], started: list[subprocess.Popen], **kwargs) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, **kwargs)
    started.append(proc)
    return proc


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[Lab]:
    """An emulated position exported through labgrid, and place bench-a matching it."""
    pytest.importorskip("labgrid")
    folder = tmp_path_factory.mktemp("lab")
    started: list[subprocess.Popen] = []
    logs = [(folder / name).open("w") for name in ("coordinator.log", "exporter.log")]
    try:
        yaml: list[str] = []
        optical_url = ""
        for position in (1, 2):  # two emulated positions, each a place of its own
            emu = _start([sys.executable, "-m", "emulator", "--speed", "200",
                          "--exit-on-stdin-eof"], started, cwd=ROOT, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
            info = json.loads(emu.stdout.readline())
            net = _start([sys.executable, "-m", "emulator.network_serial",
                          "--exit-on-stdin-eof", info["optical"], info["keypad"]], started,
                         cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            urls = json.loads(net.stdout.readline())
            optical_url = optical_url or urls[info["optical"]]
            yaml += [f"position-{position}:"]
            for name in ("optical", "keypad"):
                port = int(urls[info[name]].rsplit(":", 1)[1])
                yaml += [f"  {name}:", "    cls: NetworkSerialPort", "    host: 127.0.0.1",
                         f"    port: {port}"]
            for role, resource in info["instruments"].items():
                kind, url = resource.split("::", 1)
                yaml += [f"  {role}:", "    cls: PyVISADevice", f"    type: {kind}",
                         f'    url: "{url}"']
            yaml += ["  camera:", "    cls: HTTPVideoStream", f'    url: "{info["camera"]}"']
        (folder / "exporter.yaml").write_text("\n".join(yaml) + "\n")
        coordinator = f"127.0.0.1:{free_port()}"
        _start([str(BIN / "labgrid-coordinator"), "-l", coordinator], started, cwd=folder,
               stdout=logs[0], stderr=subprocess.STDOUT)
        lab = Lab(coordinator, folder, optical_url)
        wait_for("the coordinator", lambda: lab.client("places").returncode == 0)
        _start([str(BIN / "labgrid-exporter"), "-c", coordinator, "--name", "pc1",
                str(folder / "exporter.yaml")], started, cwd=folder, stdout=logs[1],
               stderr=subprocess.STDOUT)
        exported = 2 * (3 + len(info["instruments"]))  # optical, keypad, camera, instruments
        wait_for("the exporter's resources", lambda: lab.client(
            "resources").stdout.count("pc1/position-") == exported)
        for place, position in ((PLACE, 1), (PLACE_B, 2)):
            for step in (["create"], ["add-match", f"pc1/position-{position}/*"]):
                done = lab.client("-p", place, *step)
                assert done.returncode == 0, done.stderr
        yield lab
    finally:
        for proc in reversed(started):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    pipe.close()
        for fh in logs:
            fh.close()


@pytest.mark.slow
def test_the_plan_runs_on_a_labgrid_place_and_the_place_is_released(lab):
    """The whole plan, on the place's RFC 2217 ports and VISA resources: every test passes
    but the operator's steps, which a real bench without an operator skips (so the run is
    NOT CONCLUDED), and those the place's bench does not apply to."""
    proc = lab.rig_run("--place", PLACE)
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, out[-3000:] + err[-3000:]
    assert f"rig run: acquired labgrid place {PLACE} ({lab.coordinator})" in out
    assert out.rstrip().splitlines()[-1] == f"rig run: released labgrid place {PLACE}"
    assert lab.holder() == "None"
    # the run was on the place's resources: the record names the place and the meter's
    # optical port as the RFC 2217 port the exporter announced
    run = next(p for p in (lab.folder / "reports").iterdir() if p.is_dir())
    lines = [json.loads(x) for x in (run / "results.jsonl").read_text().splitlines()]
    start = lines[0]
    assert start["bench"] == f"emulated bench @ labgrid place {PLACE}"
    assert start["emulated"] is False and start["speed"] == 200
    assert f"'optical': '{lab.optical_url}'" in str(start["identity"])
    tests = [x for x in lines if x["kind"] == "test" and x["phase"] in ("setup", "call")]
    assert len({t["test"] for t in tests}) >= 80
    failed = [t["test"] for t in tests if t["outcome"] not in ("passed", "skipped")]
    assert failed == [], out[-3000:]
    skipped = [t["reason"] for t in tests if t["outcome"] == "skipped"]
    assert all("needs an operator" in r or r.startswith("not applicable") for r in skipped)


def test_ctrl_c_stops_the_run_and_releases_the_place(lab, tmp_path):
    plan = tmp_path / "test_long_plan.py"
    mark = tmp_path / "mark"
    plan.write_text(LONG_PLAN.format(mark=str(mark)))
    proc = lab.rig_run("--place", PLACE, str(plan))
    try:
        wait_for("the plan to reach test_long", mark.exists, timeout=120)
        assert lab.holder() != "None"  # held while the plan runs
        os.kill(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, out[-3000:] + err[-3000:]
    assert f"rig run: released labgrid place {PLACE}" in out
    assert lab.holder() == "None"


def test_a_place_held_by_someone_else_is_refused_and_left_to_them(lab):
    taken = lab.client("-p", PLACE, "acquire", user="siti")
    assert taken.returncode == 0, taken.stderr
    try:
        proc = lab.rig_run("--place", PLACE)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 2, out + err
        assert err.startswith(f"rig run: --place {PLACE}: the place is acquired by ")
        assert "/siti" in err and len(err.strip().splitlines()) == 1
        assert lab.holder().endswith("/siti")  # still theirs
    finally:
        lab.client("-p", PLACE, "release", user="siti")
    assert lab.holder() == "None"


def test_an_unknown_place_and_a_silent_coordinator_are_named(lab):
    proc = lab.rig_run("--place", "bench-z")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "acquired" not in out
    assert err == (f"rig run: --place bench-z: no such place at the labgrid coordinator "
                   f"{lab.coordinator} (places: {PLACE}, {PLACE_B})\n")
    silent = f"127.0.0.1:{free_port()}"
    proc = subprocess.run([sys.executable, "-m", "rig", "run", "--place", PLACE,
                           "--coordinator", silent], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"rig run: no labgrid coordinator answers at {silent} (")


def test_a_place_without_a_resource_the_bench_needs_is_named(lab, tmp_path):
    bench = tmp_path / "bench.toml"
    template = (ROOT / "rig" / "benches" / "emulated.toml").read_text()
    bench.write_text(template + '[instruments.power_meter]\nmodel = "yokogawa-wt310e"\n')
    proc = lab.rig_run("--place", PLACE, "--bench", str(bench))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, out + err
    assert err.startswith(f"rig run: --place {PLACE}: the place has no resource 'power_meter' "
                          "(PyVISADevice) for the power_meter ([instruments.power_meter])")
    assert f"rig run: released labgrid place {PLACE}" in out
    assert lab.holder() == "None"


def test_the_built_bench_file_reads_back_as_written():
    import datetime as dt
    import tomllib

    data = {"bench": {"name": 'bench "3"', "emulated": False, "speed": 1.5},
            "meter": {"pan": "600727471234567834", "keys": {"krn": 1, "sgc": "123456"},
                      "camera_calibration": {"corners": [[1, 2], [3.5, 4], [5, 6], [7, 8]]}},
            "keypad": {"port": "rfc2217://pc3:4002", "map": {"0": 1, "ENT": 12}},
            "instruments": {"source": {"resource": "TCPIP::10.0.0.5::5025::SOCKET",
                                       "calibration_due": dt.date(2027, 3, 1)}}}
    assert tomllib.loads(toml_text(data)) == data


@pytest.mark.parametrize("argv, expected", [
    (["--place", "a", "-k", "credit"], ["--bench", "B", "-k", "credit"]),
    (["--place=a", "--coordinator", "h:1", "--bench", "t.toml", "x.py"],
     ["--bench", "B", "x.py"]),
    (["--coordinator=h:1", "--place", "a", "--", "--bench", "y"],
     ["--bench", "B", "--", "--bench", "y"]),
])
def test_the_run_gets_the_built_bench_in_place_of_the_place_options(argv, expected):
    assert argv_for_bench(argv, Path("B")) == expected


def _read_exactly(fd: int, n: int, timeout: float = 10.0) -> bytes:
    import select

    got = b""
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        if select.select([fd], [], [], 0.1)[0]:
            got += os.read(fd, n - len(got))
    return got


@contextlib.contextmanager
def served_pty(**settings) -> Iterator[tuple[int, object]]:
    """A raw pty served over RFC 2217 on 127.0.0.1, as the emulator's ports are: (the
    device end's master fd, a pyserial client of the served port with `settings`)."""
    import tty

    import serial

    from emulator.network_serial import Rfc2217Server

    master, slave = os.openpty()
    tty.setraw(slave)
    server = Rfc2217Server(os.ttyname(slave))
    server.start()
    try:
        port = serial.serial_for_url(server.url, timeout=5, **settings)
        try:
            yield master, port
        finally:
            port.close()
    finally:
        server.stop()
        os.close(master)
        os.close(slave)


def test_a_pty_served_over_rfc2217_carries_every_byte_both_ways():
    """The device end is a pty (as the emulator's ports are): 7E1 and a baud change are
    acknowledged although a pty takes neither, and 0xFF (telnet's IAC) crosses unharmed."""
    import serial

    with served_pty(baudrate=300, bytesize=serial.SEVENBITS,
                    parity=serial.PARITY_EVEN) as (master, port):
        port.write(b"/?!\r\n\xff\x00")
        assert _read_exactly(master, 7) == b"/?!\r\n\xff\x00"
        os.write(master, b"/EMu5\r\n\xff\xff\x01")
        assert port.read(10) == b"/EMu5\r\n\xff\xff\x01"
        port.baudrate = 9600  # the server acknowledges it, or pyserial raises
        os.write(master, b"ACK")
        assert port.read(3) == b"ACK"


def test_two_places_run_at_once_as_positions_and_both_are_released(lab):
    proc = lab.rig_run("--place", PLACE, "--place", PLACE_B,
                       str(ROOT / "testplans" / "test_optical.py"))
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, out[-3000:] + err[-3000:]
    assert "rig run: 2 places as positions, each in its own worker" in out
    assert out.rstrip().splitlines()[-2:] == [f"rig run: released labgrid place {PLACE}",
                                              f"rig run: released labgrid place {PLACE_B}"]
    assert lab.holder() == "None"
    assert "None" in lab.client("-p", PLACE_B, "show").stdout
    # a run folder per place, each on its own place's ports, and the batch summary
    runs = sorted(p for p in (lab.folder / "reports").iterdir()
                  if p.name.endswith(("-" + PLACE, "-" + PLACE_B)))
    assert [p.name.rsplit("-", 2)[-2:] for p in runs[-2:]] == [["bench", "a"], ["bench", "b"]]
    starts = [json.loads((p / "results.jsonl").read_text().splitlines()[0]) for p in runs[-2:]]
    assert [s["bench"] for s in starts] == [f"emulated bench @ labgrid place {PLACE}",
                                            f"emulated bench @ labgrid place {PLACE_B}"]
    opticals = {s["identity"]["meter"]["optical"] for s in starts}
    assert len(opticals) == 2 and all(o.startswith("rfc2217://127.0.0.1:") for o in opticals)
    assert any((p / "batch.pdf").is_file() for p in (lab.folder / "reports").iterdir()
               if p.name.endswith("-batch"))


def test_a_stale_answer_is_dropped_over_rfc2217_as_on_a_local_port():
    """`drop_unread` on an RFC 2217 port reads away what has arrived (pyserial's PURGE waits
    for its acknowledgement in 50 ms steps): the stale bytes go, the next answer is whole."""
    from drivers.serial_line import drop_unread

    with served_pty(baudrate=115200) as (master, port):
        os.write(master, b"OK 12.5\n")
        deadline = time.monotonic() + 10
        while port.in_waiting < 8 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert port.in_waiting == 8
        drop_unread(port)
        assert port.in_waiting == 0
        os.write(master, b"OK 13.0\n")
        assert port.read(8) == b"OK 13.0\n"


def test_the_clock_of_a_place_is_measured_on_its_injector():
    """A position exported at 50x is run at 50x although the bench file says 200; `--speed`
    given on the command line wins; a bench file that agrees keeps its own figure."""
    from rig.bench.labgrid_place import HeldPlace, place_speed

    emu = subprocess.Popen([sys.executable, "-m", "emulator", "--speed", "50",
                            "--exit-on-stdin-eof"], cwd=ROOT, stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True)
    try:
        info = json.loads(emu.stdout.readline())
        data = {"bench": {"speed": 200}, "keypad": {"port": info["keypad"]}}
        assert place_speed(data, HeldPlace("p"), None) == pytest.approx(50, rel=0.02)
        assert place_speed({"bench": {"speed": 51}, "keypad": {"port": info["keypad"]}},
                           HeldPlace("p"), None) == 51
        assert place_speed(data, HeldPlace("p"), 75.0) == 75.0
    finally:
        emu.stdin.close()
        emu.wait(timeout=30)
        emu.stdout.close()
