"""Cameras that film the meter's display: an HTTP snapshot URL or a V4L2/USB webcam.

`open_camera(spec)` picks one from a bench file's `meter.camera` string:

- `http://host[:port]/path` : a snapshot URL answering one JPEG (or PNG) per GET, like an IP
  camera's snapshot or an ESP32-CAM's `/capture`; fetched through drivers.bounded_read
  (a byte limit, a total time budget for the whole fetch, at most 3 redirects, http/https
  only), and its width and height checked from the image header before it is decoded;
- `v4l2:/dev/videoN` : a V4L2 device, through OpenCV's VideoCapture;
- `N` (an integer) : the OpenCV camera index N.
"""

from __future__ import annotations

import cv2
import numpy as np

from drivers.bounded_read import (
    HttpStatusError,
    InputRefused,
    InputTooLarge,
    ReadLimits,
    check_image_size,
    fetch_url,
)

__all__ = ["Camera", "CameraError", "DisplayError", "HttpSnapshotCamera", "VideoCaptureCamera",
           "camera_limits", "decode_image", "open_camera"]


class DisplayError(RuntimeError):
    """The meter's display could not be read (a camera problem, or an unreadable LCD)."""


class CameraError(DisplayError):
    """A camera that does not answer, or answers no image; names the camera and the step."""

    def __init__(self, camera: str, step: str, what: str) -> None:
        super().__init__(f"camera {camera}: {step}: {what}")
        self.camera = camera
        self.step = step


class Camera:
    """One camera: `frame()` is a fresh BGR image (numpy uint8, height x width x 3)."""

    name: str = "camera"

    def frame(self) -> np.ndarray:
        raise CameraError(self.name, "frame", "this camera has no way to take a frame")

    def close(self) -> None:
        """Release the device (nothing to do for a snapshot URL)."""

    def __enter__(self) -> Camera:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def camera_limits(timeout_s: float = 5.0) -> ReadLimits:
    """The bounds of one snapshot: 20 MiB, `timeout_s` for the whole fetch (connect, headers,
    redirects and body), 3 redirects, and at most 16 megapixels decoded (a 4K camera's frame
    is 8.3)."""
    return ReadLimits(max_bytes=20 * 1024 * 1024, total_s=timeout_s, max_redirects=3,
                      max_pixels=4096 * 4096, max_side=8192)


class HttpSnapshotCamera(Camera):
    """A snapshot URL: one bounded GET, one image."""

    def __init__(self, url: str, *, timeout_s: float = 5.0,
                 limits: ReadLimits | None = None) -> None:
        self.url = url
        self.name = url
        self.limits = limits or camera_limits(timeout_s)
        self.timeout_s = self.limits.total_s

    def frame(self) -> np.ndarray:
        try:
            data = fetch_url(self.url, self.limits, accept="image/jpeg, image/png")
        except HttpStatusError as exc:
            raise CameraError(self.name, "fetch", f"HTTP {exc.code} {exc.reason}"
                              + (f" ({exc.body})" if exc.body else "")) from None
        except InputRefused as exc:
            raise CameraError(self.name, "fetch", str(exc)) from None
        except OSError as exc:
            raise CameraError(self.name, "fetch", f"no answer ({exc})") from None
        return decode_image(data, self.name, self.limits)


def decode_image(data: bytes, camera: str, limits: ReadLimits | None = None) -> np.ndarray:
    """A JPEG/PNG snapshot as a BGR image, its size checked from its header first (a small
    file may decode to gigabytes); CameraError naming what came instead."""
    try:
        check_image_size(data, limits or camera_limits())
    except InputTooLarge as exc:
        raise CameraError(camera, "decode", str(exc)) from None
    except InputRefused as exc:
        raise CameraError(camera, "decode", f"{len(data)} bytes are not an image: {exc}"
                          if data[:2] in (b"\xff\xd8", b"\x89P") else
                          f"{len(data)} bytes are not an image (starting {data[:8]!r})") \
            from None
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise CameraError(camera, "decode",
                          f"{len(data)} bytes are not an image (starting {data[:8]!r})")
    return image


class VideoCaptureCamera(Camera):
    """A USB/V4L2 webcam through OpenCV; the newest frame, not one waiting in the buffer."""

    def __init__(self, source: int | str, *, timeout_s: float = 5.0,
                 limits: ReadLimits | None = None) -> None:
        self.name = f"v4l2:{source}" if isinstance(source, str) else f"index {source}"
        self.limits = limits or camera_limits(timeout_s)
        if isinstance(source, str):
            self._cap = cv2.VideoCapture(source, cv2.CAP_V4L2)
        else:
            self._cap = cv2.VideoCapture(source)
        if not self._cap.isOpened():
            raise CameraError(self.name, "open", "the device does not open (absent, busy, or "
                              "not a camera)")
        self._cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self._cap.set(cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_s * 1000)
        self._cap.set(cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_s * 1000)

    def frame(self) -> np.ndarray:
        self._cap.grab()  # drop the frame the driver may hold from before
        ok, image = self._cap.read()
        if not ok or image is None or image.size == 0:
            raise CameraError(self.name, "grab", "the camera gave no frame")
        return self._bounded(image)

    def _bounded(self, image: np.ndarray) -> np.ndarray:
        """The frame, if its size is inside the limits an HTTP snapshot is held to (a driver
        set to a huge mode would otherwise make every display read slow and memory-hungry)."""
        height, width = image.shape[:2]
        if (height * width > self.limits.max_pixels
                or max(height, width) > self.limits.max_side):
            raise CameraError(self.name, "grab", f"a {width}x{height} frame is over the limit "
                              f"({self.limits.max_pixels} pixels, {self.limits.max_side} a "
                              "side): set the camera to a smaller mode")
        return image

    def close(self) -> None:
        self._cap.release()


def open_camera(spec: str, *, timeout_s: float = 5.0,
                limits: ReadLimits | None = None) -> Camera:
    """The camera a bench file's `meter.camera` names (module doc); ValueError if unknown.
    `limits` bound an HTTP camera's snapshot (default: `camera_limits(timeout_s)`)."""
    spec = spec.strip()
    if spec.startswith(("http://", "https://")):
        return HttpSnapshotCamera(spec, timeout_s=timeout_s, limits=limits)
    if spec.startswith("v4l2:"):
        path = spec.removeprefix("v4l2:")
        if not path:
            raise ValueError(f"camera {spec!r}: v4l2: needs a device path, e.g. v4l2:/dev/video0")
        return VideoCaptureCamera(path, timeout_s=timeout_s, limits=limits)
    if spec.isdigit():
        return VideoCaptureCamera(int(spec), timeout_s=timeout_s, limits=limits)
    raise ValueError(f"camera {spec!r} is not known: give an http:// snapshot URL, "
                     "v4l2:/dev/videoN or a camera index")
