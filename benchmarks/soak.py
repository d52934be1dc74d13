"""Soak the emulated bench with garbage on every wire, then check it still serves.

Run by hand (not a test):

    .venv/bin/python benchmarks/soak.py [--frames 100000] [--seconds 180] [--seed 1]

Starts `python -m emulator` as a subprocess (as `rig` does), sends at most `--frames` garbage
frames in total, within `--seconds`, spread over the optical pty, the keypad pty and every
SCPI port on 127.0.0.1 (random bytes, truncated and oversized frames, frames with a bad BCC,
random and over-long SCPI and injector lines), then reports: whether the process lived,
server errors it logged, its resident memory (VmRSS, and the peak VmHWM) before and after,
and whether a readout over the optical port, the injector's and every instrument's `*IDN?`
still answer. Exit status 0 when nothing crashed and everything answered.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import serial

ROOT = Path(__file__).resolve().parent.parent
SOH, STX, ETX, ACK, NAK = b"\x01", b"\x02", b"\x03", b"\x06", b"\x15"
SCPI_WORDS = ["*IDN?", "*RST", "*CLS", "*OPC?", "*ESR?", "*STB?", "SYST:ERR?", ":WAV:DATA?",
              ":WAV:PRE?", ":WAV:POIN", ":TIM:SCAL", ":TRIG:SOUR", ":SING", ":TER?",
              ":MEAS:DEL?", "SOUR:VOLT", "SOUR:FREQ?", "OUTP", "MODE", "CURR", "POW?", "LOAD",
              "LEAK", "MEAS:VOLT?", "READ?", "CONF:CURR:AC", ":TRIG:TYPE", ":TRIG:DROP:TIME"]
SCPI_ARGS = ["", " 1", " ON", " OFF", " 0", " -5", " 1e308", " nan", " CHAN2", " CHAN1,CHAN2",
             " ,", " 99999", " DROP", " 10000"]


def bcc(data: bytes) -> int:
    value = 0
    for b in data:
        value ^= b
    return value & 0x7F


@dataclass
class WireStats:
    """What one wire was sent, and what went wrong on it."""

    frames: int = 0
    sent_bytes: int = 0
    answer_bytes: int = 0
    stalls: int = 0              # writes the emulator did not take within the write timeout
    errors: list[str] = field(default_factory=list)


# --- garbage ----------------------------------------------------------------------------------

def optical_frame(rng: random.Random) -> bytes:
    kind = rng.randrange(8)
    if kind == 0:
        return rng.randbytes(rng.randrange(1, 64))
    if kind == 1:  # a command frame with a bad BCC
        body = rng.choice([b"P1", b"R1", b"B0", b"W1"]) + STX + rng.randbytes(12) + ETX
        return SOH + body + bytes([bcc(body) ^ rng.randrange(1, 128)])
    if kind == 2:  # a good frame of a command the meter may not know
        body = rng.choice([b"P1", b"R1", b"B0", b"R5", b"P2"]) + STX + b"(C.50.0)" + ETX
        return SOH + body + bytes([bcc(body)])
    if kind == 3:  # truncated
        body = b"R1" + STX + b"C.60.0()" + ETX
        frame = SOH + body + bytes([bcc(body)])
        return frame[: rng.randrange(1, len(frame))]
    if kind == 4:  # oversized
        return SOH + b"R1" + STX + rng.randbytes(rng.randrange(1100, 3000))
    if kind == 5:
        return b"/?" + rng.randbytes(rng.randrange(0, 40)) + b"!\r\n"
    if kind == 6:
        return ACK + rng.randbytes(3) + b"\r\n"
    return rng.choice([b"/?!\r\n", NAK, ACK + b"050\r\n", ACK + b"051\r\n"])


def keypad_line(rng: random.Random) -> bytes:
    kind = rng.randrange(5)
    if kind == 0:
        return rng.randbytes(rng.randrange(0, 80)).replace(b"\n", b"") + b"\n"
    if kind == 1:
        return b"5" * rng.randrange(1000, 5000) + b"\n"  # over long
    if kind == 2:
        return bytes([rng.choice([0x0B, 0x0C, 0x1C, 0x1D, 0x1E, 0x1F, 0x00, 0x7F])]) + b"\n"
    if kind == 3:
        cmd = rng.choice([b"PRESS ", b"TYPE ", b"LAST? ", b"TIME? ", b"*IDN?", b"FOO "])
        return cmd + rng.randbytes(rng.randrange(0, 12)).replace(b"\n", b"") + b"\n"
    return rng.randbytes(rng.randrange(1, 64))  # no newline: a line broken across frames


def scpi_line(rng: random.Random) -> bytes:
    kind = rng.randrange(5)
    if kind == 0:
        return rng.randbytes(rng.randrange(0, 120)) + b"\n"
    if kind == 1:
        return b";".join([b":WAV:DATA?"] * rng.randrange(100, 1200)) + b"\n"
    if kind == 2:
        return b"A" * rng.randrange(5000, 20000)  # over long, newline comes later
    words = [rng.choice(SCPI_WORDS) + rng.choice(SCPI_ARGS) for _ in range(rng.randrange(1, 9))]
    return ";".join(words).encode() + b"\n"


# --- wires ------------------------------------------------------------------------------------

def soak_pty(path: str, baud: int, make: Callable[[random.Random], bytes], share: int,
             deadline: float, seed: int, stats: WireStats) -> None:
    rng = random.Random(seed)
    try:
        ser = serial.Serial(path, baud, timeout=0, write_timeout=2)
    except (serial.SerialException, OSError) as exc:
        stats.errors.append(f"open {path}: {exc}")
        return
    with ser:
        while stats.frames < share and time.monotonic() < deadline:
            data = make(rng)
            try:
                ser.write(data)
            except serial.SerialTimeoutException:
                stats.stalls += 1
            except (serial.SerialException, OSError) as exc:
                stats.errors.append(f"write: {exc}")
                return
            stats.frames += 1
            stats.sent_bytes += len(data)
            stats.answer_bytes += len(ser.read(ser.in_waiting or 0))


def soak_scpi(resource: str, share: int, deadline: float, seed: int, stats: WireStats) -> None:
    rng = random.Random(seed)
    _, host, port, _ = resource.split("::")
    try:
        sock = socket.create_connection((host, int(port)), timeout=5)
    except OSError as exc:
        stats.errors.append(f"connect {resource}: {exc}")
        return
    done = threading.Event()

    def drain() -> None:
        sock.settimeout(0.5)
        while not done.is_set():
            try:
                chunk = sock.recv(1 << 16)
            except TimeoutError:
                continue
            except OSError:
                return
            if not chunk:
                return
            stats.answer_bytes += len(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    with sock:
        while stats.frames < share and time.monotonic() < deadline:
            data = scpi_line(rng)
            try:
                sock.sendall(data)
            except TimeoutError:
                stats.stalls += 1
            except OSError as exc:
                stats.errors.append(f"send: {exc}")
                break
            stats.frames += 1
            stats.sent_bytes += len(data)
        with contextlib.suppress(OSError):
            sock.sendall(b"\n")  # end a last over-long line
        time.sleep(0.5)
        done.set()
        reader.join(timeout=2)


# --- checks afterwards ------------------------------------------------------------------------

def proc_status(pid: int) -> dict[str, str]:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def memory(pid: int, key: str) -> str:
    return " ".join(proc_status(pid).get(key, "gone").split())


def thread_count(pid: int) -> int:
    """The process's threads; 0 once it is gone."""
    return int(proc_status(pid).get("Threads", "0"))


def readout(path: str) -> str:
    """A mode C data readout at 9600 baud; 'ok (N data sets)' or what went wrong."""
    with serial.Serial(path, 300, timeout=0.05) as ser:
        ser.write(b"/?!\r\n")
        buf = _read(ser, lambda b: b"\r\n" in b.partition(b"/")[2], 10)
        if b"/" not in buf:
            return f"no identification: {buf[-60:]!r}"
        ser.write(ACK + b"050\r\n")
        ser.baudrate = 9600
        buf = _read(ser, lambda b: ETX in b and len(b) > b.index(ETX) + 1, 15)
    start, end = buf.find(STX), buf.find(ETX)
    if start < 0 or end < 0 or end + 1 >= len(buf):
        return f"no readout: {buf[-60:]!r}"
    body = buf[start + 1 : end + 1]
    if buf[end + 1] != bcc(body):
        return "readout with a bad BCC"
    return f"ok ({body.count(b'(')} data sets)"


def _read(ser: serial.Serial, done: Callable[[bytes], bool], seconds: float) -> bytes:
    end = time.monotonic() + seconds
    buf = b""
    while time.monotonic() < end and not done(buf):
        buf += ser.read(max(1, ser.in_waiting))
    return buf


def keypad_idn(path: str) -> str:
    with serial.Serial(path, 115200, timeout=0.05) as ser:
        ser.reset_input_buffer()
        ser.write(b"\n*IDN?\n")
        buf = _read(ser, lambda b: b"KEYPAD-INJECTOR" in b and b.endswith(b"\r\n"), 10)
    return "ok" if b"OK STS-RIG,KEYPAD-INJECTOR" in buf else f"no answer: {buf[-60:]!r}"


def scpi_ask(resource: str, lines: list[str]) -> str:
    _, host, port, _ = resource.split("::")
    try:
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall("".join(line + "\n" for line in lines).encode())
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = sock.recv(1 << 16)
                if not chunk:
                    return "connection closed"
                buf += chunk
    except OSError as exc:
        return f"no answer: {exc}"
    return buf.decode(errors="replace").strip()


# --- main -------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=100_000, help="garbage frames in total")
    parser.add_argument("--seconds", type=float, default=180.0, help="time bound of the soak")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--speed", type=float, default=200.0, help="the bench clock's speed")
    args = parser.parse_args()

    log = Path(tempfile.mkdtemp(prefix="soak-")) / "emulator.log"
    err = log.open("w")
    proc = subprocess.Popen([sys.executable, "-m", "emulator", "--speed", f"{args.speed:g}",
                             "--exit-on-stdin-eof"], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=err, text=True)
    line = proc.stdout.readline()
    if not line:
        print(f"the emulator did not start; see {log}", file=sys.stderr)
        return 2
    info = json.loads(line)
    pid = proc.pid
    time.sleep(0.5)  # every server thread started
    rss_before, threads_before = memory(pid, "VmRSS"), memory(pid, "Threads")

    wires: dict[str, WireStats] = {"optical": WireStats(), "keypad": WireStats()}
    wires.update({role: WireStats() for role in info["instruments"]})
    share = -(-args.frames // len(wires))
    t0 = time.monotonic()
    deadline = t0 + args.seconds
    workers = [
        threading.Thread(target=soak_pty, args=(info["optical"], 300, optical_frame, share,
                                                deadline, args.seed, wires["optical"])),
        threading.Thread(target=soak_pty, args=(info["keypad"], 115200, keypad_line, share,
                                                deadline, args.seed + 1, wires["keypad"])),
    ]
    for i, (role, resource) in enumerate(info["instruments"].items()):
        workers.append(threading.Thread(target=soak_scpi, args=(
            resource, share, deadline, args.seed + 2 + i, wires[role])))
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    soak_s = time.monotonic() - t0
    # every connection's server thread ends once it has worked through what it was sent
    drain_end = time.monotonic() + 60
    while thread_count(pid) > int(threads_before) and time.monotonic() < drain_end:
        time.sleep(0.2)
    time.sleep(1.0)  # and the ptys' last lines
    drain_s = time.monotonic() - t0 - soak_s

    alive = proc.poll() is None
    rss_after, peak = memory(pid, "VmRSS"), memory(pid, "VmHWM")
    threads_after = memory(pid, "Threads")
    checks: dict[str, str] = {}
    if alive:
        # the garbage may have switched the supply off: back to rated, output on
        checks["source restored"] = scpi_ask(info["instruments"]["source"],
                                             ["*RST", "OUTP ON", "OUTP?"])
        checks["optical readout"] = readout(info["optical"])
        checks["keypad *IDN?"] = keypad_idn(info["keypad"])
        for role, resource in info["instruments"].items():
            checks[f"{role} *IDN?"] = scpi_ask(resource, ["*CLS", "*IDN?"])
    proc.stdin.close()
    try:
        code = proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
    err.close()
    logged = log.read_text(errors="replace")
    server_errors = logged.count("server error") + logged.count("Traceback")

    total = sum(s.frames for s in wires.values())
    print(f"soak: {total} frames in {soak_s:.1f} s (bound {args.frames} frames, "
          f"{args.seconds:g} s), seed {args.seed}, bench speed {args.speed:g}; "
          f"worked through {drain_s:.1f} s later")
    print(f"{'wire':<8} {'frames':>8} {'bytes sent':>11} {'answered':>10} {'stalls':>7}  errors")
    for role, s in wires.items():
        print(f"{role:<8} {s.frames:>8} {s.sent_bytes:>11} {s.answer_bytes:>10} {s.stalls:>7}  "
              f"{'; '.join(s.errors) or '-'}")
    crashes = (0 if alive else 1) + server_errors
    print()
    print(f"{'figure':<22} value")
    for name, value in [("process alive after", "yes" if alive else "NO"),
                        ("server errors logged", str(server_errors)),
                        ("crashes", str(crashes)),
                        ("VmRSS before", rss_before), ("VmRSS after", rss_after),
                        ("VmHWM (peak)", peak),
                        ("threads before/after", f"{threads_before}/{threads_after}"),
                        *checks.items(),
                        ("exit code on stdin EOF", str(code))]:
        print(f"{name:<22} {value}")
    answered = all(v.startswith(("ok", "STS-RIG")) or name == "source restored"
                   for name, v in checks.items())
    if server_errors:
        print(f"\nsee {log} for the logged errors")
    return 0 if crashes == 0 and answered and alive and code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
