"""The camera reader on real rendered JPEGs, fetched over HTTP from a running CameraServer.

Every test here reads images; the text behind them is only what the expected answer is
compared with.
"""

from __future__ import annotations

import random
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from drivers.segment_reader import (
    CameraError,
    DisplayError,
    DisplayReader,
    DisplayTimeout,
    DisplayUnreadable,
    open_camera,
)
from emulator.camera import CameraServer, CameraSettings
from meterprofile.lcd import DEFAULT_LAYOUT, canonical

MESSAGES = ["BENAR", "GAGAL", "USED", "USANG", "OVER", "PERIKSA", "BLOKIR", "KCT 1", "KCT 2",
            "123.45 kWh", "230.0 V", "5.000 A", "1150 W", "50.00 Hz", "12.34", "-", "1.0.0"]


class Shown:
    """The text the emulated LCD shows; tests change it between reads."""

    def __init__(self, text: str = "") -> None:
        self.text = text

    def __call__(self) -> str:
        return self.text


@pytest.fixture
def bench_camera():
    shown = Shown()
    server = CameraServer(shown, DEFAULT_LAYOUT, CameraSettings(), seed=8)
    server.start()
    try:
        yield server, shown
    finally:
        server.stop()


def reader_for(server: CameraServer, **kwargs) -> DisplayReader:
    return DisplayReader(open_camera(server.url), DEFAULT_LAYOUT, server.corners, **kwargs)


def test_the_server_answers_jpeg_snapshots(bench_camera):
    server, _ = bench_camera
    assert server.url.startswith("http://127.0.0.1:") and server.url.endswith("/capture")
    frame = open_camera(server.url).frame()
    assert frame.shape == (480, 640, 3)


def test_every_message_at_the_default_settings(bench_camera):
    server, shown = bench_camera
    reader = reader_for(server)
    for text in MESSAGES:
        shown.text = text
        reading = reader.read()
        assert reading.text == text
        assert reading.frames == 2
        assert 0.4 <= reading.confidence <= 1.0


def test_a_blank_display_reads_blank(bench_camera):
    server, shown = bench_camera
    shown.text = ""
    assert reader_for(server).read().text == ""


@pytest.mark.parametrize("settings", [
    {"perspective": 1.0},
    {"blur": 2.0, "noise": 10.0},
    {"exposure": 0.5, "ghosting": 0.2},
    {"glare": 0.3, "exposure": 0.8, "jpeg_quality": 40},
])
def test_random_numbers_across_camera_imperfections(bench_camera, settings):
    server, shown = bench_camera
    server.configure(**settings)
    reader = reader_for(server)
    rng = random.Random(62055)
    right = 0
    for _ in range(6):
        shown.text = rng.choice([f"{rng.uniform(0, 936):.2f}", f"{rng.uniform(0, 260):.1f} V",
                                 str(rng.randrange(10**8))])
        try:
            reading = reader.read()
        except DisplayUnreadable:
            continue
        assert reading.text == canonical(shown.text)
        right += 1
    assert right >= 5


@pytest.mark.parametrize("settings", [{"glare": 1.0}, {"exposure": 3.0}, {"exposure": 0.1},
                                      {"blur": 9.0}])
def test_a_washed_out_or_unsharp_frame_is_unreadable_never_a_text(bench_camera, settings):
    server, shown = bench_camera
    server.configure(**settings)
    shown.text = "BENAR"
    with pytest.raises(DisplayUnreadable, match="unreadable: no two consecutive frames agreed "
                                                 "in 3 frames"):
        reader_for(server, max_frames=3).read()


def test_corners_that_miss_the_lcd_are_unreadable_not_blank(bench_camera):
    server, shown = bench_camera
    shown.text = "-"   # one segment: the easiest display to mistake for a blank one
    corners = [(x + 15, y + 5) for x, y in server.corners]
    reader = DisplayReader(open_camera(server.url), DEFAULT_LAYOUT, corners, max_frames=3)
    with pytest.raises(DisplayUnreadable, match="corners do not fit"):
        reader.read()


def test_rotate_turns_the_corner_list(bench_camera):
    server, shown = bench_camera
    shown.text = "USANG"
    tl, tr, br, bl = server.corners
    # listed from the frame's corner that holds the LCD's bottom-left: 90 degrees turned
    reader = DisplayReader(open_camera(server.url), DEFAULT_LAYOUT, [bl, tl, tr, br],
                           rotate=90)
    assert reader.read().text == "USANG"


def test_read_until_waits_past_the_typed_digits(bench_camera):
    server, shown = bench_camera
    shown.text = "123"
    timer = threading.Timer(0.3, lambda: setattr(shown, "text", "BENAR"))
    timer.start()
    try:
        reading = reader_for(server).read_until(lambda text: not text.isdigit(), timeout_s=5)
    finally:
        timer.cancel()
    assert reading.text == "BENAR"


def test_read_until_names_the_last_text_when_it_never_comes(bench_camera):
    server, shown = bench_camera
    shown.text = "GAGAL"
    with pytest.raises(DisplayTimeout, match="last: 'GAGAL'"):
        reader_for(server).read_until(lambda text: text == "BENAR", timeout_s=0.2)


def test_a_text_the_lcd_cannot_show_is_an_http_error_naming_it(bench_camera):
    server, shown = bench_camera
    shown.text = "HELLO"
    with pytest.raises(CameraError, match=r"fetch: HTTP 500.*'HELLO' is not a word"):
        open_camera(server.url).frame()


def test_a_camera_that_does_not_answer_names_itself_and_the_step():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/capture"
    with pytest.raises(DisplayError, match=f"camera {url}: fetch: no answer"):
        open_camera(url, timeout_s=1).frame()


def test_an_answer_that_is_no_image_is_a_decode_error():
    class NotAnImage(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"hello")

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), NotAnImage)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/capture"
        with pytest.raises(CameraError, match=r"decode: 5 bytes are not an image \(starting "
                                              r"b'hello'\)"):
            open_camera(url).frame()
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize(("spec", "message"), [
    ("rtsp://cam/stream", "is not known"), ("v4l2:", "needs a device path")])
def test_open_camera_refuses_an_unknown_spec(spec, message):
    with pytest.raises(ValueError, match=message):
        open_camera(spec)


def test_a_v4l2_device_that_is_absent_is_an_open_error():
    with pytest.raises(CameraError, match="camera v4l2:/dev/video-none: open"):
        open_camera("v4l2:/dev/video-none")


def test_reader_arguments_are_checked(bench_camera):
    server, _ = bench_camera
    camera = open_camera(server.url)
    with pytest.raises(ValueError, match="rotate must be"):
        DisplayReader(camera, DEFAULT_LAYOUT, server.corners, rotate=45)
    with pytest.raises(ValueError, match="four"):
        DisplayReader(camera, DEFAULT_LAYOUT, server.corners[:3])
