"""The emulated bench's camera: films the emulated LCD and serves JPEG snapshots over HTTP.

A real bench points a webcam or an ESP32-CAM at the meter; this one renders the meter's LCD
(emulator/lcd_render.py) and puts it through what such a camera does to it: a perspective
view, defocus blur, sensor noise, a glare spot, an exposure off nominal, and JPEG. `GET
/capture` answers one fresh frame (like an ESP32-CAM's `/capture`), on 127.0.0.1 only.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np

from emulator.lcd_render import render_lcd
from emulator.model import BenchModel
from meterprofile import MeterProfile
from meterprofile.lcd import LcdLayout, profile_layout

log = logging.getLogger("emulator.camera")

HOUSING_GREY = 70  # the meter's plastic around the LCD


@dataclass(frozen=True)
class CameraSettings:
    """How imperfect the camera is; the defaults are a realistic, well set up bench camera."""

    perspective: float = 0.3    # 0 = face-on; 1 = strongly oblique (keystone and tilt)
    blur: float = 1.2           # Gaussian defocus, sigma in pixels
    noise: float = 4.0          # sensor noise, standard deviation in grey levels
    glare: float = 0.10         # peak brightening of the glare spot, fraction of full scale
    exposure: float = 1.0       # gain against a correct exposure (2 = two times over)
    ghosting: float = 0.08      # darkness of an unlit segment, fraction of a lit one
    jpeg_quality: int = 85
    width: int = 640
    height: int = 480

    def __post_init__(self) -> None:
        for name in ("perspective", "blur", "noise", "glare", "ghosting"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"camera setting {name} must be >= 0, got {value!r}")
        if not (math.isfinite(self.exposure) and self.exposure > 0):
            raise ValueError(f"camera setting exposure must be > 0, got {self.exposure!r}")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"camera setting jpeg_quality must be 1..100, "
                             f"got {self.jpeg_quality!r}")
        if self.width < 64 or self.height < 48:
            raise ValueError(f"camera frame {self.width}x{self.height} is too small")


class CameraSimulator:
    """Turns a display text into the JPEG a bench camera would take of it."""

    def __init__(self, layout: LcdLayout, settings: CameraSettings | None = None,
                 seed: int | None = None) -> None:
        self.layout = layout
        self.settings = settings or CameraSettings()
        self._rng = np.random.default_rng(seed)
        self._lcd: tuple[tuple[str, float], np.ndarray] | None = None
        self._spot: tuple[tuple[int, int], np.ndarray] | None = None

    @property
    def corners(self) -> list[tuple[float, float]]:
        """Where the LCD's corners are in the frame: top-left, top-right, bottom-right,
        bottom-left, in pixels (what a bench file's camera calibration declares)."""
        s = self.settings
        w, h = s.width, s.height
        lcd_w = 0.72 * w
        lcd_h = lcd_w / self.layout.aspect
        cx, cy = w / 2, h / 2
        p = s.perspective
        # keystone: the top edge nearer the lens is wider; tilt: a slight roll
        top, bottom = lcd_w * (1 + 0.12 * p) / 2, lcd_w * (1 - 0.12 * p) / 2
        quad = [(-top, -lcd_h / 2), (top, -lcd_h / 2), (bottom, lcd_h / 2),
                (-bottom, lcd_h / 2)]
        roll = math.radians(6.0 * p)
        shear = 0.10 * p * lcd_h
        out = []
        for i, (x, y) in enumerate(quad):
            x += shear if i in (0, 1) else -shear
            out.append((cx + x * math.cos(roll) - y * math.sin(roll),
                        cy + x * math.sin(roll) + y * math.cos(roll)))
        return out

    def frame(self, text: str) -> np.ndarray:
        """One BGR frame of the LCD showing `text`."""
        s = self.settings
        if self._lcd is None or self._lcd[0] != (text, s.ghosting):  # the same text: reuse
            self._lcd = ((text, s.ghosting), render_lcd(text, self.layout, width=640,
                                                        ghosting=s.ghosting))
        lcd = self._lcd[1]
        lh, lw = lcd.shape[:2]
        src = np.float32([[0, 0], [lw, 0], [lw, lh], [0, lh]])
        dst = np.float32(self.corners)
        warp = cv2.getPerspectiveTransform(src, dst)
        frame = np.full((s.height, s.width, 3), HOUSING_GREY, np.uint8)
        frame = cv2.warpPerspective(lcd, warp, (s.width, s.height), dst=frame,
                                    flags=cv2.INTER_AREA, borderMode=cv2.BORDER_TRANSPARENT)
        img = frame.astype(np.float32) * s.exposure
        if s.glare > 0:
            img += self._glare_spot(s) [:, :, None]
        if s.blur > 0:
            img = cv2.GaussianBlur(img, (0, 0), s.blur)
        if s.noise > 0:
            noise = self._rng.standard_normal((s.height, s.width), np.float32) * s.noise
            img += noise[:, :, None]
        return np.clip(img, 0, 255).astype(np.uint8)

    def _glare_spot(self, s: CameraSettings) -> np.ndarray:
        """A soft bright spot (a lamp reflected in the window), wandering a little per frame:
        a window of a spot twice the frame's size, drawn once."""
        if self._spot is None or self._spot[0] != (s.width, s.height):
            sigma = 0.12 * s.width
            xs = (np.arange(2 * s.width, dtype=np.float32) - s.width) ** 2
            ys = (np.arange(2 * s.height, dtype=np.float32) - s.height) ** 2
            spot = np.exp(-(ys[:, None] + xs[None, :]) / np.float32(2 * sigma * sigma))
            self._spot = ((s.width, s.height), spot)
        jitter = self._rng.normal(0.0, 0.01, 2)
        x0 = int(s.width - (0.38 + jitter[0]) * s.width)
        y0 = int(s.height - (0.45 + jitter[1]) * s.height)
        window = self._spot[1][y0:y0 + s.height, x0:x0 + s.width]
        return window * np.float32(255.0 * s.glare)

    def jpeg(self, text: str) -> bytes:
        """One frame, JPEG-encoded as the camera sends it."""
        ok, data = cv2.imencode(".jpg", self.frame(text),
                                [cv2.IMWRITE_JPEG_QUALITY, self.settings.jpeg_quality])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        return data.tobytes()


class CameraServer:
    """`GET /capture` -> a JPEG of the LCD showing `text_source()` now, on 127.0.0.1."""

    def __init__(self, text_source: Callable[[], str], layout: LcdLayout,
                 settings: CameraSettings | None = None, *, seed: int | None = None) -> None:
        self.text_source = text_source
        self.camera = CameraSimulator(layout, settings, seed)
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def settings(self) -> CameraSettings:
        return self.camera.settings

    def configure(self, **changes: float) -> CameraSettings:
        """Change some settings (tests and benchmarks: `configure(glare=0.8)`)."""
        with self._lock:
            self.camera.settings = replace(self.camera.settings, **changes)
            return self.camera.settings

    @property
    def corners(self) -> list[tuple[float, float]]:
        return self.camera.corners

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the camera server is not started")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/capture"

    def snapshot(self) -> bytes:
        with self._lock:
            return self.camera.jpeg(self.text_source())

    def start(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/capture":
                    self._answer(404, b"only /capture here\n", "text/plain")
                    return
                try:
                    body = server.snapshot()
                except (ValueError, RuntimeError) as exc:
                    log.warning("camera: %s", exc)
                    self._answer(500, f"{exc}\n".encode(), "text/plain")
                    return
                self._answer(200, body, "image/jpeg")

            def _answer(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, fmt: str, *args: object) -> None:
                log.debug("camera: " + fmt, *args)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        name="camera", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


def meter_camera(model: BenchModel, profile: MeterProfile,
                 settings: CameraSettings | None = None) -> CameraServer:
    """The emulated bench's camera on its meter: the display text is register C.56.0, and a
    meter without supply shows nothing."""

    def shown() -> str:
        if not model.powered():
            return ""
        register = model.read_register("C.56.0")
        return register[0] if register else ""

    return CameraServer(shown, profile_layout(profile), settings)
