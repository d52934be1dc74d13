"""The HTTP camera against hostile cameras on 127.0.0.1: an endless body, a byte-a-second
trickle, slow headers, a small PNG that decodes to a huge image, redirects to ftp: and round
in circles. Every read ends within its bounds with an error naming the camera and the step;
nothing is decoded that is larger than the limit. Also: a uniform grey frame, where the
calibration corners show no LCD, is unreadable, never a blank display."""

from __future__ import annotations

import socket
import struct
import threading
import zlib
from collections.abc import Callable

import cv2
import numpy as np
import pytest

from drivers.bounded_read import (
    InputNotAllowed,
    InputTooLarge,
    ReadLimits,
    check_image_size,
    image_size,
    read_file,
)
from drivers.camera import CameraError, decode_image, open_camera
from drivers.segment_reader import DisplayReader
from emulator.camera import CameraSimulator
from meterprofile.lcd import DEFAULT_LAYOUT

OK_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\n"


class HostileCamera:
    """A TCP server on 127.0.0.1 whose every connection is handed to `behave(conn, stop)`."""

    def __init__(self, behave: Callable[[socket.socket, threading.Event], None]) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/capture"
        self.stop = threading.Event()
        self.requests: list[bytes] = []
        self._behave = behave
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.server.settimeout(0.1)
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    self.requests.append(conn.recv(4096))
                    self._behave(conn, self.stop)
                except OSError:
                    pass  # the client hung up: what a bounded reader does

    def __enter__(self) -> HostileCamera:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self._thread.join(timeout=10)
        self.server.close()


def _send_for(conn: socket.socket, stop: threading.Event, data: bytes, interval: float,
              limit_s: float = 10.0) -> None:
    """Send `data` every `interval` s until the client hangs up or `limit_s` passes."""
    for _ in range(int(limit_s / max(interval, 0.001))):
        if stop.is_set():
            return
        conn.sendall(data)
        if interval:
            stop.wait(interval)


def _png(width: int, height: int) -> bytes:
    """A valid grey PNG of width x height, all zero: a few hundred bytes for any size."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + \
            struct.pack(">I", zlib.crc32(kind + body))
    rows = zlib.compress(b"\x00" * (width + 1) * min(height, 64), 9)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0,
                                                              0, 0, 0))
            + chunk(b"IDAT", rows) + chunk(b"IEND", b""))


def test_an_endless_body_stops_at_the_size_limit():
    def endless(conn, stop):
        conn.sendall(OK_HEAD + b"\r\n")  # no length: the body ends when the camera hangs up
        _send_for(conn, stop, b"\xff" * 65536, 0.0, limit_s=30)

    limits = ReadLimits(max_bytes=1_000_000, total_s=20)
    with HostileCamera(endless) as cam, pytest.raises(CameraError) as err:
        open_camera(cam.url, limits=limits).frame()
    assert err.value.step == "fetch"
    assert f"camera {cam.url}: fetch: " in str(err.value)
    assert "longer than the limit of 1000000 bytes" in str(err.value)


def test_an_announced_body_beyond_the_limit_is_refused_unread():
    def huge(conn, stop):
        conn.sendall(OK_HEAD + b"Content-Length: 99999999999\r\n\r\n")
        _send_for(conn, stop, b"\xff" * 65536, 0.0, limit_s=5)

    with HostileCamera(huge) as cam, pytest.raises(CameraError,
                                                   match="announces 99999999999 bytes"):
        open_camera(cam.url).frame()


def test_a_trickling_body_ends_within_the_total_budget():
    def trickle(conn, stop):
        conn.sendall(OK_HEAD + b"Content-Length: 100000\r\n\r\n\xff\xd8")
        _send_for(conn, stop, b"\x00", 1.0)  # one byte a second: each read has one

    with HostileCamera(trickle) as cam, pytest.raises(CameraError) as err:
        open_camera(cam.url, timeout_s=1.5).frame()
    assert "fetch: " in str(err.value)
    assert "did not end within the read's 1.5 s" in str(err.value)


def test_slow_headers_end_within_the_total_budget():
    def slow_headers(conn, stop):
        _send_for(conn, stop, b"X", 0.3)  # a status line that never ends

    with HostileCamera(slow_headers) as cam, pytest.raises(CameraError,
                                                           match="within the read's 1 s"):
        open_camera(cam.url, timeout_s=1.0).frame()


def test_a_trickling_tls_handshake_ends_within_the_total_budget():
    def slow_hello(conn, stop):
        # a TLS handshake record announcing 16 kB, then a byte every 0.2 s: each of the
        # client's reads gets a byte long before its own timeout
        conn.sendall(b"\x16\x03\x03\x40\x00")
        _send_for(conn, stop, b"\x00", 0.2)

    with HostileCamera(slow_hello) as cam, pytest.raises(CameraError) as err:
        open_camera(cam.url.replace("http:", "https:"), timeout_s=1.0).frame()
    # either the rig's own deadline or the TLS layer's bounded handshake ends it
    text = str(err.value)
    assert "fetch: " in text and ("within the read's 1 s" in text or "timed out" in text)


def test_a_small_png_of_a_huge_image_is_refused_before_decoding():
    png = _png(40000, 40000)  # 1.6 gigapixels, a few kB of file
    assert len(png) < 10000 and image_size(png) == ("PNG", 40000, 40000)

    def answer(conn, stop):
        conn.sendall(OK_HEAD + f"Content-Length: {len(png)}\r\n\r\n".encode() + png)

    with HostileCamera(answer) as cam, pytest.raises(CameraError) as err:
        open_camera(cam.url).frame()
    assert err.value.step == "decode"
    assert "a PNG image of 40000x40000 pixels" in str(err.value)
    assert "refused before decoding" in str(err.value)


def test_a_jpeg_header_gives_the_size_and_a_normal_frame_decodes():
    frame = np.full((48, 64, 3), 128, np.uint8)
    jpeg = cv2.imencode(".jpg", frame)[1].tobytes()
    assert image_size(jpeg) == ("JPEG", 64, 48)
    assert decode_image(jpeg, "cam").shape == (48, 64, 3)
    big = jpeg.replace(b"\xff\xc0\x00\x11\x08\x00\x30\x00\x40", b"\xff\xc0\x00\x11\x08\xff"
                       b"\xf0\xff\xf0")  # the SOF0 header claims 65520 x 65520
    assert big != jpeg
    with pytest.raises(InputTooLarge, match="65520x65520"):
        check_image_size(big, ReadLimits())


@pytest.mark.parametrize("location", ["ftp://127.0.0.1/capture.jpg", "file:///etc/passwd"])
def test_a_redirect_to_another_scheme_is_refused(location):
    def redirect(conn, stop):
        conn.sendall(f"HTTP/1.1 302 Found\r\nLocation: {location}\r\n"
                     "Content-Length: 0\r\n\r\n".encode())

    with HostileCamera(redirect) as cam, pytest.raises(CameraError) as err:
        open_camera(cam.url).frame()
    scheme = location.split(":")[0]
    assert f"{location}: scheme {scheme}: is not allowed (only http:, https:)" \
        in str(err.value)


def test_a_redirect_target_with_control_characters_is_shown_escaped():
    def redirect(conn, stop):
        conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: ftp://x/\x1b[31mred\x07\r\n"
                     b"Content-Length: 0\r\n\r\n")

    with HostileCamera(redirect) as cam, pytest.raises(CameraError) as err:
        open_camera(cam.url).frame()
    assert "ftp://x/\\x1b[31mred\\x07: scheme ftp: is not allowed" in str(err.value)
    assert "\x1b" not in str(err.value) and "\x07" not in str(err.value)


def test_redirects_round_in_circles_stop_at_the_limit():
    def loop(conn, stop):
        conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\n\r\n")

    with HostileCamera(loop) as cam, pytest.raises(CameraError, match="more than 3 redirects"):
        open_camera(cam.url).frame()
    assert len(cam.requests) == 4


def test_a_redirect_to_a_snapshot_is_followed():
    frame = np.full((48, 64, 3), 128, np.uint8)
    jpeg = cv2.imencode(".jpg", frame)[1].tobytes()

    def answer(conn, stop):
        if b"/capture " in cam.requests[-1]:
            conn.sendall(b"HTTP/1.1 301 Moved\r\nLocation: /real\r\nContent-Length: 0\r\n\r\n")
        else:
            conn.sendall(OK_HEAD + f"Content-Length: {len(jpeg)}\r\n\r\n".encode() + jpeg)

    with HostileCamera(answer) as cam:
        assert open_camera(cam.url).frame().shape == (48, 64, 3)


def test_open_camera_refuses_other_schemes_than_http():
    with pytest.raises(ValueError, match="is not known"):
        open_camera("ftp://127.0.0.1/capture")


def test_read_file_refuses_what_is_not_a_regular_file(tmp_path):
    import os

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(InputNotAllowed, match=f"key file {fifo} is not a regular file "
                                              r"\(a FIFO\)"):
        read_file(fifo, 100, what="key file")  # would block for ever on an open without it
    with pytest.raises(InputNotAllowed, match="a character device"):
        read_file("/dev/zero", 100)
    big = tmp_path / "big"
    big.write_bytes(b"0" * 101)
    with pytest.raises(InputTooLarge, match="more than 100 bytes"):
        read_file(big, 100)
    big.write_bytes(b"0" * 100)
    assert read_file(big, 100) == b"0" * 100


def test_a_uniform_grey_frame_is_unreadable_not_blank():
    """No LCD at the calibration corners: the glass and what lies round it are one grey."""
    camera = CameraSimulator(DEFAULT_LAYOUT, seed=1)
    reader = DisplayReader(open_camera("http://127.0.0.1:9/unused"), DEFAULT_LAYOUT,
                           camera.corners)
    grey = np.full((480, 640, 3), 190, np.uint8)
    result = reader.read_frame(grey)
    assert result.text is None and result.confidence == 0.0
    assert "no LCD edge at the calibration corners" in result.why
    # the same reader reads the emulated camera's blank LCD as blank
    assert reader.read_frame(camera.frame("")).text == ""


def test_a_uniform_frame_without_corners_is_unreadable():
    reader = DisplayReader(open_camera("http://127.0.0.1:9/unused"), DEFAULT_LAYOUT, None)
    result = reader.read_frame(np.full((480, 640), 190, np.uint8))
    assert result.text is None
    assert "no calibration corners" in result.why


def test_a_webcam_frame_over_the_size_limit_is_refused():
    """A V4L2 camera set to a huge mode: its frame is refused naming the size, a frame inside
    the limits passes unchanged (the size check of VideoCaptureCamera, without a device)."""
    from drivers.bounded_read import ReadLimits
    from drivers.camera import VideoCaptureCamera

    camera = VideoCaptureCamera.__new__(VideoCaptureCamera)  # no device on a test machine
    camera.name = "v4l2:/dev/video9"
    camera.limits = ReadLimits(max_bytes=1024, total_s=1.0, max_redirects=0,
                               max_pixels=640 * 480, max_side=1000)
    small = np.zeros((480, 640, 3), np.uint8)
    assert camera._bounded(small) is small
    with pytest.raises(CameraError, match=r"a 1280x720 frame is over the limit"):
        camera._bounded(np.zeros((720, 1280, 3), np.uint8))
    with pytest.raises(CameraError, match=r"1001x10 frame"):
        camera._bounded(np.zeros((10, 1001), np.uint8))
