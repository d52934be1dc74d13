"""A serial port (or the pty of an emulated device) served on TCP as an RFC 2217 port.

A bench position on another PC reaches the rig over the network: its meter's optical port
and its keypad injector are served as RFC 2217 network serial ports, which labgrid exports
as `NetworkSerialPort` resources and the rig opens with pyserial as `rfc2217://HOST:PORT`
(the drivers take a URL as readily as a device path). pyserial's `rfc2217.PortManager`
speaks the protocol (telnet options, baud rate and framing, purge, modem lines); this module
is the server loop around it: one listening socket per port, one client at a time (a newer
client takes the port over, as a re-plugged cable would), the device opened while a client
is connected and closed when it leaves.

A pty has no modem lines and carries no framing: a setting it refuses (DTR, a 7E1 termios on
some kernels) is noted and ignored there, and the client is told the value it asked for.
On a real serial port such a refusal is an error and ends that client's connection.

    python -m emulator.network_serial [--host 127.0.0.1] DEVICE[=PORT] ...

prints one JSON line mapping each DEVICE to its `rfc2217://HOST:PORT` URL (PORT 0 or left
out: the OS picks a free one) and serves until SIGINT/SIGTERM (or, with
`--exit-on-stdin-eof`, until stdin closes).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import select
import signal
import socket
import sys
import termios
import threading
from dataclasses import dataclass

import serial
import serial.rfc2217

log = logging.getLogger("emulator.network_serial")

POLL_S = 0.2  # how often a connection looks at its modem lines and at the stop flag
LINE_ERRORS = (OSError, termios.error, serial.SerialException)


class _LenientSerial(serial.Serial):
    """A serial port that, on a pty, ignores the settings a pty cannot take (no modem lines,
    no framing): the attribute keeps the value asked for, so the client's request is
    acknowledged as it was made."""

    def _tolerant(self, what: str, action: object, *args: object) -> None:
        try:
            action(*args)  # type: ignore[operator]
        except LINE_ERRORS as exc:
            if not _is_pty(self.portstr):
                raise
            log.debug("%s: %s ignored on a pty (%s)", self.portstr, what, exc)

    def _reconfigure_port(self, force_update: bool = False) -> None:
        self._tolerant("framing", super()._reconfigure_port, force_update)

    def _update_dtr_state(self) -> None:
        self._tolerant("DTR", super()._update_dtr_state)

    def _update_rts_state(self) -> None:
        self._tolerant("RTS", super()._update_rts_state)

    def _update_break_state(self) -> None:
        self._tolerant("break", super()._update_break_state)

    def modem_lines(self) -> bool:
        """Whether the device has modem lines to report (a pty has none)."""
        return not _is_pty(self.portstr)

    # the input lines read back: a pty has none, so each reads inactive there
    @property
    def cts(self) -> bool:
        return self.modem_lines() and super().cts

    @property
    def dsr(self) -> bool:
        return self.modem_lines() and super().dsr

    @property
    def ri(self) -> bool:
        return self.modem_lines() and super().ri

    @property
    def cd(self) -> bool:
        return self.modem_lines() and super().cd


def _is_pty(path: str | None) -> bool:
    return bool(path) and os.path.realpath(path).startswith("/dev/pts/")


class _Connection:
    """The client socket as PortManager wants it: a thread-safe `write`."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._lock = threading.Lock()

    def write(self, data: bytes) -> None:
        with self._lock:
            self.sock.sendall(data)


@dataclass
class ServedPort:
    """Where a device is served: its path and the URL a client opens."""

    device: str
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"rfc2217://{self.host}:{self.port}"


class Rfc2217Server:
    """One device served on one TCP port, by one thread."""

    def __init__(self, device: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.device = device
        self.sock = socket.create_server((host, port))
        self.sock.settimeout(POLL_S)
        self.served = ServedPort(device, host, self.sock.getsockname()[1])
        self._stop = threading.Event()
        self._client: socket.socket | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True,
                                        name=f"rfc2217-{self.served.port}")

    @property
    def url(self) -> str:
        return self.served.url

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._drop_client()
        self._thread.join(timeout=5)
        with contextlib.suppress(OSError):
            self.sock.close()

    def _drop_client(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)

    def _accept_loop(self) -> None:
        worker: threading.Thread | None = None
        while not self._stop.is_set():
            try:
                client, peer = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            if worker is not None and worker.is_alive():
                log.info("%s: a new client (%s) takes the port over", self.device, peer)
                self._drop_client()
                worker.join(timeout=5)
            # answers are small and come in pieces: without this, Nagle's algorithm holds each
            # piece until the client's delayed ACK (~40 ms), which 200x makes 8 bench seconds
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._client = client
            worker = threading.Thread(target=self._serve_client, args=(client,), daemon=True,
                                      name=f"rfc2217-{self.served.port}-client")
            worker.start()
        if worker is not None:
            self._drop_client()
            worker.join(timeout=5)

    def _serve_client(self, client: socket.socket) -> None:
        try:
            line = _LenientSerial(self.device, timeout=0)
        except LINE_ERRORS as exc:
            log.warning("%s: cannot open for a client: %s", self.device, exc)
            client.close()
            return
        try:
            self._pump(client, line)
        except LINE_ERRORS as exc:
            log.info("%s: client connection ended: %s", self.device, exc)
        finally:
            with contextlib.suppress(*LINE_ERRORS):
                line.close()
            with contextlib.suppress(OSError):
                client.close()
            with self._lock:
                if self._client is client:
                    self._client = None

    def _pump(self, client: socket.socket, line: _LenientSerial) -> None:
        """Bytes both ways until the client leaves or the server stops."""
        manager = serial.rfc2217.PortManager(line, _Connection(client), logger=None)
        modem = line.modem_lines()
        fd = line.fileno()
        while not self._stop.is_set():
            ready, _, _ = select.select([client, fd], [], [], POLL_S)
            if client in ready:
                data = client.recv(4096)
                if not data:
                    return
                line.write(b"".join(manager.filter(data)))
            if fd in ready:
                data = line.read(max(1, line.in_waiting))
                if data:
                    client.sendall(b"".join(manager.escape(data)))
            if modem:
                manager.check_modem_lines()


def parse_spec(spec: str) -> tuple[str, int]:
    """DEVICE[=PORT] -> (device, port); ValueError names a bad port."""
    device, _, port = spec.partition("=")
    if not device:
        raise ValueError(f"{spec!r}: expected DEVICE[=PORT]")
    if not port:
        return device, 0
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{spec!r}: the port must be a number from 0 to 65535")
    return device, int(port)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line on stderr, exit 2
        print(f"network_serial: {message}", file=sys.stderr)
        sys.exit(2)


def main(argv: list[str] | None = None) -> int:
    """Serve each DEVICE until stopped; 2 for bad arguments or a port that cannot be bound."""
    parser = _Parser(prog="python -m emulator.network_serial",
                     description="Serve serial ports (or ptys) as RFC 2217 network ports.")
    parser.add_argument("devices", nargs="+", metavar="DEVICE[=PORT]")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--exit-on-stdin-eof", action="store_true",
                        help="stop when stdin reaches end of file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    servers: list[Rfc2217Server] = []
    try:
        for spec in args.devices:
            device, port = parse_spec(spec)
            if not os.path.exists(device):
                raise ValueError(f"{device}: no such device")
            servers.append(Rfc2217Server(device, args.host, port))
    except (ValueError, OSError) as exc:
        for server in servers:
            server.sock.close()
        print(f"network_serial: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    for server in servers:
        server.start()
    print(json.dumps({s.device: s.url for s in servers}), flush=True)
    if args.exit_on_stdin_eof:
        from emulator.lifeline import watch_stdin

        watch_stdin(stop)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        for server in servers:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
