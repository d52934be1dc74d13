"""The emulated bench's control channel: the physical steps a person does at a real bench.

A plan's operator step ("open the terminal cover", "hold a magnet to the meter") is acted
here on the emulated bench, so the plans that need a person run unattended. Loopback TCP
only (127.0.0.1, a port the OS picks), one command a line, one answer a line:

    ACT terminal-cover-open   -> OK     the cover switch opens (a tamper event)
    ACT terminal-cover-close  -> OK
    ACT magnet-on             -> OK     the magnetic-field sensor trips (a tamper event)
    ACT magnet-off            -> OK
    ACTIONS?                  -> OK terminal-cover-open,terminal-cover-close,...
    anything else             -> ERR <what was wrong>

A line longer than MAX_LINE bytes is answered `ERR line longer than ...` and the connection
is closed: the channel never holds more than that of one client's bytes.

The model has one tamper input (BenchModel.set_tamper): it is active while the cover is
open or the magnet is on, so a second stimulus while the first is still on is not a new
tamper event (the meter latches tamper until a clear-tamper token either way).
"""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
import time

from emulator.model import BenchModel

log = logging.getLogger("emulator.control")

MAX_LINE = 65536  # bytes of one command line, far beyond the longest command

ACTIONS = {
    "terminal-cover-open": ("cover", True),
    "terminal-cover-close": ("cover", False),
    "magnet-on": ("magnet", True),
    "magnet-off": ("magnet", False),
}


class BenchControl:
    """The physical inputs of the emulated meter, acted by name."""

    def __init__(self, model: BenchModel) -> None:
        self.model = model
        self.inputs = {"cover": False, "magnet": False}
        self._lock = threading.Lock()

    def act(self, action: str) -> None:
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r} (known: {', '.join(ACTIONS)})")
        name, on = ACTIONS[action]
        with self._lock:
            self.inputs[name] = on
            self.model.set_tamper(any(self.inputs.values()))

    def handle(self, line: str) -> str:
        parts = line.split()
        if not parts:
            raise ValueError("empty command")
        cmd = parts[0].upper()
        if cmd == "ACTIONS?" and len(parts) == 1:
            return "OK " + ",".join(ACTIONS)
        if cmd == "ACT" and len(parts) == 2:
            self.act(parts[1])
            return "OK"
        raise ValueError(f"unknown command {line.strip()!r} (ACT <action>, ACTIONS?)")


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        control: BenchControl = self.server.control  # type: ignore[attr-defined]
        while True:
            raw = self.rfile.readline(MAX_LINE + 1)
            if not raw:
                return
            if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
                log.warning("control: a line longer than %d bytes; closing", MAX_LINE)
                self.wfile.write(f"ERR line longer than {MAX_LINE} bytes\r\n".encode())
                self.wfile.flush()
                _drain(self.request)
                return
            line = raw.decode("ascii", "replace").strip()
            if not line:
                continue
            try:
                reply = control.handle(line)
            except ValueError as exc:
                reply = f"ERR {exc}"
            log.info("control %r -> %r", line, reply)
            self.wfile.write(reply.encode("ascii", "replace") + b"\r\n")


def _drain(sock: socket.socket, limit: int = 1 << 20, seconds: float = 0.5) -> None:
    """Half-close, then drop what the client still sends (at most `limit` bytes, `seconds`):
    a close with unread bytes resets the connection, and the client would lose the ERR."""
    try:
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(seconds)
        end, dropped = time.monotonic() + seconds, 0
        while dropped < limit and time.monotonic() < end:
            chunk = sock.recv(65536)
            if not chunk:
                return
            dropped += len(chunk)
    except OSError:
        pass


class ControlServer(socketserver.ThreadingTCPServer):
    """Serves BenchControl on 127.0.0.1 (never another interface)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, model: BenchModel) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.control = BenchControl(model)
        self._thread = threading.Thread(target=self.serve_forever, name="control",
                                        daemon=True)

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return f"{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)
