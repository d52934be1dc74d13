"""One bounded reader for every input the rig fetches over the network or reads from a file.

A device or a file the rig does not control can send without end, trickle a byte a second,
redirect elsewhere or hand over a small image that decodes to gigabytes. Every read here has
a byte limit, a total time budget for the whole read (connect, headers, every redirect and
the body together: a per-socket timeout restarts with each byte and bounds nothing), a
redirect limit and a list of allowed URL schemes (http and https, never ftp: or file:); a
file must be a regular file (never a FIFO, which blocks, or /dev/zero, which never ends).
`image_size` reads an image's width and height from its JPEG or PNG header, so a caller can
refuse a huge image before anything decodes it.
"""

from __future__ import annotations

import http.client
import os
import socket
import stat
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

__all__ = ["HttpStatusError", "InputNotAllowed", "InputRefused", "InputTooLarge",
           "InputTooSlow", "ReadLimits", "check_image_size", "fetch_url", "image_size",
           "read_file"]

_REDIRECTS = (301, 302, 303, 307, 308)
_CHUNK = 65536


class InputRefused(Exception):
    """An input the rig will not take (too large, too slow, not allowed, or broken); the
    message names the input (a URL or a file) and what was wrong with it."""


class InputTooLarge(InputRefused):
    """More bytes, or a larger image, than the limit."""


class InputTooSlow(InputRefused):
    """The whole read did not end within its total time budget."""


class InputNotAllowed(InputRefused):
    """A scheme, a redirect or a kind of file that is never read."""


class HttpStatusError(InputRefused):
    """The server answered with an HTTP error status; `body` is the start of its text."""

    def __init__(self, url: str, code: int, reason: str, body: str) -> None:
        super().__init__(f"{url}: HTTP {code} {reason}" + (f" ({body})" if body else ""))
        self.code = code
        self.reason = reason
        self.body = body


@dataclass(frozen=True)
class ReadLimits:
    """The bounds of one read. `total_s` is the budget of the whole read; `max_pixels` and
    `max_side` bound an image's decoded size (width x height, and either side)."""

    max_bytes: int = 20 * 1024 * 1024
    total_s: float = 5.0
    max_redirects: int = 3
    schemes: tuple[str, ...] = ("http", "https")
    max_pixels: int = 4096 * 4096
    max_side: int = 16384

    def __post_init__(self) -> None:
        if self.max_bytes < 1 or not self.total_s > 0 or self.max_redirects < 0:
            raise ValueError(f"read limits must be positive: {self!r}")
        bad = set(self.schemes) - {"http", "https"}
        if bad:
            raise ValueError(f"read limits: scheme(s) {sorted(bad)} cannot be allowed "
                             "(http and https only)")


# --- files ------------------------------------------------------------------------------------

def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "FIFO"), (stat.S_ISCHR, "character device"),
                       (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket"),
                       (stat.S_ISDIR, "directory")):
        if test(mode):
            return name
    return "special file"


def read_file(path: str | Path, max_bytes: int, *, what: str = "file") -> bytes:
    """At most `max_bytes` of a regular file. A FIFO, a device, a socket or a directory is
    refused before a byte is read (opened non-blocking, so a FIFO never hangs the open);
    OSError (missing, unreadable) passes through for the caller to name."""
    path = Path(path)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | os.O_CLOEXEC
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise InputNotAllowed(f"{what} {path} is not a regular file (a {_kind(mode)})")
        data = bytearray()
        while len(data) <= max_bytes:
            chunk = os.read(fd, min(_CHUNK, max_bytes + 1 - len(data)))
            if not chunk:
                return bytes(data)
            data += chunk
        raise InputTooLarge(f"{what} {path} holds more than {max_bytes} bytes")
    finally:
        os.close(fd)


# --- HTTP -------------------------------------------------------------------------------------

def printable(text: str, limit: int = 200) -> str:
    """`text` from a remote end (a redirect target, an error body) fit for a message: control
    characters escaped, cut at `limit` characters."""
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return shown if len(shown) <= limit else shown[:limit] + "..."


def _cuttable(conn: http.client.HTTPConnection) -> None:
    """Keep a duplicate of the connection's TCP socket as `conn._cutter`: a shutdown on it
    ends the connection, TLS handshake included (the TLS socket replaces the one http.client
    holds only once its handshake is done)."""
    def create(address: tuple[str, int], timeout: float,
               source_address: tuple[str, int] | None = None) -> socket.socket:
        sock = socket.create_connection(address, timeout, source_address)
        conn._cutter = sock.dup()  # type: ignore[attr-defined]
        return sock
    conn._create_connection = create  # type: ignore[attr-defined]


class _Watchdog:
    """Cuts a connection's socket at the deadline, from another thread: a read blocked in
    the middle of the TLS handshake, the headers or the body then ends at once, whatever
    each socket read's timeout."""

    def __init__(self, conn: http.client.HTTPConnection, seconds: float) -> None:
        self._conn = conn
        self._done = threading.Event()
        self.fired = False
        self._thread = threading.Thread(target=self._run, args=(seconds,), daemon=True,
                                        name="bounded-read")
        self._thread.start()

    def _run(self, seconds: float) -> None:
        if self._done.wait(seconds):
            return
        self.fired = True
        while not self._done.is_set():  # until the socket exists (a connect is bounded)
            sock = getattr(self._conn, "_cutter", None)
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                    return
                except OSError:
                    pass
            self._done.wait(0.05)

    def stop(self) -> None:
        self._done.set()
        self._thread.join(timeout=1)
        cutter = getattr(self._conn, "_cutter", None)
        if cutter is not None:
            cutter.close()


def _checked(url: str, limits: ReadLimits) -> tuple[str, str, int | None, str]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    url = printable(url)
    if scheme not in limits.schemes:
        raise InputNotAllowed(f"{url}: scheme {scheme + ':' if scheme else '(none)'} is not "
                              f"allowed (only {', '.join(s + ':' for s in limits.schemes)})")
    if not parts.hostname:
        raise InputNotAllowed(f"{url}: no host")
    try:
        port = parts.port
    except ValueError:
        raise InputNotAllowed(f"{url}: the port is not a number 0..65535") from None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, parts.hostname, port, path


def fetch_url(url: str, limits: ReadLimits, *, accept: str = "*/*") -> bytes:
    """The body of one GET of `url`, redirects followed within the limits. InputTooLarge,
    InputTooSlow, InputNotAllowed or HttpStatusError name what was wrong; OSError (no
    connection, reset) passes through for the caller to name."""
    deadline = time.monotonic() + limits.total_s
    first = url
    for _ in range(limits.max_redirects + 1):
        status, reason, location, body = _get(url, limits, deadline, accept)
        if status in _REDIRECTS:
            if not location:
                raise InputRefused(f"{printable(url)}: HTTP {status} {printable(reason)} "
                                   "without a Location")
            url = urljoin(url, location)
            continue
        if status != 200:
            text = " ".join(body[:200].decode("utf-8", "replace").split())
            raise HttpStatusError(printable(url), status, printable(reason), printable(text))
        return body
    raise InputNotAllowed(f"{printable(first)}: more than {limits.max_redirects} redirects "
                          f"(the last to {printable(url)})")


def _get(url: str, limits: ReadLimits, deadline: float,
         accept: str) -> tuple[int, str, str | None, bytes]:
    scheme, host, port, path = _checked(url, limits)
    shown = printable(url)
    left = deadline - time.monotonic()
    if left <= 0:
        raise InputTooSlow(f"{shown}: no answer within the read's {limits.total_s:g} s")
    cls = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
    conn = cls(host, port, timeout=left)
    _cuttable(conn)
    watchdog = _Watchdog(conn, left)
    received = 0
    try:
        conn.request("GET", path, headers={"Accept": accept, "Connection": "close"})
        answer = conn.getresponse()
        if answer.status in _REDIRECTS:
            return answer.status, answer.reason, answer.getheader("Location"), b""
        limit = limits.max_bytes if answer.status == 200 else 4096
        announced = answer.getheader("Content-Length", "")
        if answer.status == 200 and announced.strip().isdigit() and \
                int(announced) > limit:
            raise InputTooLarge(f"{shown}: the answer announces {int(announced)} bytes, more "
                                f"than the limit of {limit}")
        body = bytearray()
        while len(body) <= limit:
            chunk = answer.read(min(_CHUNK, limit + 1 - len(body)))
            if not chunk:
                break
            body += chunk
            received = len(body)
        if len(body) > limit and answer.status == 200:
            raise InputTooLarge(f"{shown}: the answer is longer than the limit of {limit} "
                                "bytes (stopped reading there)")
        if watchdog.fired:
            raise InputTooSlow(f"{shown}: the answer did not end within the read's "
                               f"{limits.total_s:g} s ({received} bytes of body received)")
        return answer.status, answer.reason, None, bytes(body[:limit])
    except (http.client.HTTPException, OSError) as exc:
        if watchdog.fired:
            raise InputTooSlow(f"{shown}: the answer did not end within the read's "
                               f"{limits.total_s:g} s ({received} bytes of body received)") \
                from None
        if isinstance(exc, http.client.HTTPException):
            raise InputRefused(f"{shown}: not a valid HTTP answer ({type(exc).__name__}: "
                               f"{printable(str(exc), 120)})") from None
        raise
    finally:
        watchdog.stop()
        conn.close()


# --- images -----------------------------------------------------------------------------------

_PNG = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers (ITU-T T.81 Table B.1: SOF0..SOF15 less DHT C4, JPG C8, DAC CC)
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def image_size(data: bytes) -> tuple[str, int, int]:
    """(format, width, height) from a PNG's IHDR or a JPEG's start-of-frame header, without
    decoding; InputRefused for anything else (only JPEG and PNG are taken)."""
    if data.startswith(_PNG):
        # PNG (ISO/IEC 15948 11.2.2): the first chunk is IHDR, width and height 4 bytes each
        if len(data) < 24 or data[12:16] != b"IHDR":
            raise InputRefused("a PNG without its IHDR header")
        width, height = struct.unpack(">II", data[16:24])
        return "PNG", width, height
    if data.startswith(b"\xff\xd8"):
        return ("JPEG", *_jpeg_size(data))
    raise InputRefused(f"{len(data)} bytes are not a JPEG or PNG image "
                       f"(starting {data[:8]!r})")


def _jpeg_size(data: bytes) -> tuple[int, int]:
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            raise InputRefused(f"a JPEG with a broken marker at byte {i}")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            i += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image or start of scan before any frame header
            break
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker in _SOF:
            # SOFn: Lf(2) P(1) Y(2) X(2) (ITU-T T.81 B.2.2): Y lines, X samples per line
            if i + 9 > len(data):
                break
            height, width = struct.unpack(">HH", data[i + 5:i + 9])
            return width, height
        i += 2 + length
    raise InputRefused("a JPEG without a frame header (no size before its image data)")


def check_image_size(data: bytes, limits: ReadLimits) -> tuple[int, int]:
    """(width, height) of a JPEG/PNG image whose decoded size is within `limits`;
    InputTooLarge naming the size otherwise (checked from the header, before decoding)."""
    fmt, width, height = image_size(data)
    if width == 0 or height == 0:
        raise InputRefused(f"a {fmt} image of {width}x{height} pixels")
    if width > limits.max_side or height > limits.max_side or \
            width * height > limits.max_pixels:
        raise InputTooLarge(f"a {fmt} image of {width}x{height} pixels "
                            f"({width * height / 1e6:.0f} megapixels): more than the limit of "
                            f"{limits.max_pixels / 1e6:.1f} megapixels or {limits.max_side} "
                            "pixels a side; refused before decoding")
    return width, height
