"""Cameras that film the meter's display: an HTTP snapshot URL or a V4L2/USB webcam.

`open_camera(spec)` picks one from a bench file's `meter.camera` string:

- `http://host[:port]/path` : a snapshot URL answering one JPEG (or PNG) per GET, like an IP
  camera's snapshot or an ESP32-CAM's `/capture`; fetched with urllib;
- `v4l2:/dev/videoN` : a V4L2 device, through OpenCV's VideoCapture;
- `N` (an integer) : the OpenCV camera index N.
"""

from __future__ import annotations

import urllib.error
import urllib.request

import cv2
import numpy as np

__all__ = ["Camera", "CameraError", "DisplayError", "HttpSnapshotCamera", "VideoCaptureCamera",
           "open_camera"]


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


class HttpSnapshotCamera(Camera):
    """A snapshot URL: one GET, one image."""

    def __init__(self, url: str, *, timeout_s: float = 5.0) -> None:
        self.url = url
        self.name = url
        self.timeout_s = timeout_s

    def frame(self) -> np.ndarray:
        try:
            with urllib.request.urlopen(self.url, timeout=self.timeout_s) as answer:
                data = answer.read()
        except urllib.error.HTTPError as exc:
            body = exc.read(200).decode("utf-8", "replace").strip()
            raise CameraError(self.name, "fetch", f"HTTP {exc.code} {exc.reason}"
                              + (f" ({body})" if body else "")) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise CameraError(self.name, "fetch", f"no answer ({reason})") from None
        return decode_image(data, self.name)


def decode_image(data: bytes, camera: str) -> np.ndarray:
    """A JPEG/PNG snapshot as a BGR image; CameraError naming what came instead."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    if image is None:
        raise CameraError(camera, "decode",
                          f"{len(data)} bytes are not an image (starting {data[:8]!r})")
    return image


class VideoCaptureCamera(Camera):
    """A USB/V4L2 webcam through OpenCV; the newest frame, not one waiting in the buffer."""

    def __init__(self, source: int | str, *, timeout_s: float = 5.0) -> None:
        self.name = f"v4l2:{source}" if isinstance(source, str) else f"index {source}"
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
        return image

    def close(self) -> None:
        self._cap.release()


def open_camera(spec: str, *, timeout_s: float = 5.0) -> Camera:
    """The camera a bench file's `meter.camera` names (module doc); ValueError if unknown."""
    spec = spec.strip()
    if spec.startswith(("http://", "https://")):
        return HttpSnapshotCamera(spec, timeout_s=timeout_s)
    if spec.startswith("v4l2:"):
        path = spec.removeprefix("v4l2:")
        if not path:
            raise ValueError(f"camera {spec!r}: v4l2: needs a device path, e.g. v4l2:/dev/video0")
        return VideoCaptureCamera(path, timeout_s=timeout_s)
    if spec.isdigit():
        return VideoCaptureCamera(int(spec), timeout_s=timeout_s)
    raise ValueError(f"camera {spec!r} is not known: give an http:// snapshot URL, "
                     "v4l2:/dev/videoN or a camera index")
