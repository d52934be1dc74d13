"""Read what the meter's LCD shows, through a camera.

Each frame is rectified from the four LCD corners a bench file declares (a perspective warp
onto the glass's own frame), then every segment, decimal point and unit icon of the
profile's layout (meterprofile.lcd) is judged by its darkness against the bare glass inside
its own digit cell. The on/off threshold comes from the frame itself (the two clusters of
darknesses, split where they are furthest apart); a segment too close to it, a glass washed
out by glare or too dark to see, or a pattern that is no valid display makes the frame
unreadable. A blank display is read only where the LCD's edge shows at the calibration
corners (the glass differs from what lies round it): a uniform grey frame, a lens cap or a
camera pointed elsewhere has no segments either, and is unreadable, not blank. A reading is
two consecutive frames that agree: the reader retries, and says
"unreadable" rather than guess, so it never returns a wrong text for a text it could not see.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from drivers.camera import Camera, CameraError, DisplayError, open_camera
from meterprofile.lcd import DP, SEGMENTS, LcdLayout, decode

__all__ = ["Camera", "CameraError", "DisplayError", "DisplayReader", "DisplayReading",
           "DisplayTimeout", "DisplayUnreadable", "FrameRead", "open_camera"]

RECT_WIDTH = 640          # pixels of the rectified glass
GLASS_SATURATED = 244     # mean grey of a glass patch washed out (glare, over-exposure)
GLASS_TOO_DARK = 45       # mean grey of a glass patch too dark to see segments on
LIT_MIN_CONTRAST = 0.30   # lit segments darken the glass at least this fraction
BLANK_MAX_CONTRAST = 0.18  # a blank display: no element darker than this fraction
MIN_MARGIN = 0.40         # every element this far from the threshold (half separations)
STRAY_PAD_PX = 5          # rectified pixels round a lit element where its blur may reach
STRAY_MAX_PX = 25         # dark pixels outside every lit element a frame may have
SEARCH_PX = 6             # rectified pixels the boxes may move to fit the segments
MAX_UNEVEN = 0.12        # std (or patch difference) / glass grey inside one element's box
MIN_SEPARATION = 0.25     # lit and unlit clusters differ by this fraction of the lit one
EDGE_GAP_PX = 8           # rectified pixels skipped on each side of the LCD's edge (blur)
EDGE_BAND_PX = 12         # rectified pixels of the bands either side of the edge compared
EDGE_MIN_CONTRAST = 0.15  # glass and surround differ by this fraction of the brighter
EDGE_MIN_SEEN = 0.25      # share of the outer band that must lie inside the frame


class DisplayUnreadable(DisplayError):
    """No two consecutive frames agreed on a valid display within the frames or time allowed."""


class DisplayTimeout(DisplayError):
    """The display did not show what was awaited in time (read_until)."""


@dataclass(frozen=True)
class FrameRead:
    """One frame's verdict: the text (None: unreadable, `why` says why) and its margin."""

    text: str | None
    confidence: float
    why: str = ""


@dataclass(frozen=True)
class DisplayReading:
    """What the display showed: canonical text (meterprofile.lcd.canonical), how sure."""

    text: str
    confidence: float   # 0..1: the smallest margin of any element in the agreeing frames
    frames: int         # frames taken for this reading
    elapsed_s: float


class _Geometry:
    """Sampling boxes (rectified pixels) of every element, and the glass each is judged on."""

    def __init__(self, layout: LcdLayout) -> None:
        self.width = RECT_WIDTH
        self.height = max(1, round(RECT_WIDTH / layout.aspect))
        self.names: list[tuple[int, str]] = []  # (cell index or -1, segment or icon name)
        boxes, refs, full = [], [], []
        glass = []
        for i, (cx, cy, cw, ch) in enumerate(layout.cells):
            for gx, gy, gw, gh in layout.glass:
                glass.append(self._px((cx + gx * cw, cy + gy * ch, gw * cw, gh * ch), 0.7))
            for name in (*SEGMENTS, DP):
                if name not in layout.segments:
                    continue
                sx, sy, sw, sh = layout.segments[name]
                boxes.append(self._px((cx + sx * cw, cy + sy * ch, sw * cw, sh * ch), 0.5))
                full.append(self._px((cx + sx * cw, cy + sy * ch, sw * cw, sh * ch), 1.0))
                refs.append(i)
                self.names.append((i, name))
        centres = [cx + cw / 2 for cx, _, cw, _ in layout.cells]
        for name, (ix, iy, iw, ih) in layout.icons.items():
            boxes.append(self._px((ix, iy, iw, ih), 0.6))
            full.append(self._px((ix, iy, iw, ih), 1.0))
            refs.append(min(range(len(centres)), key=lambda k: abs(centres[k] - ix - iw / 2)))
            self.names.append((-1, name))
        self.cells = len(layout.cells)
        self.per_cell = len(layout.glass)
        self.boxes = np.array(boxes, np.int64)
        self.glass = np.array(glass, np.int64)
        self.refs = np.array(refs, np.int64)
        self.full = np.array(full, np.int64)
        self.centres = np.array([(cx + cw / 2) * self.width for cx, _, cw, _ in layout.cells])

    def _px(self, box: tuple[float, float, float, float], keep: float) -> tuple[int, ...]:
        """The middle `keep` fraction of a glass-fraction box, in rectified pixels."""
        x, y, w, h = box
        x0, x1 = (x + w * (1 - keep) / 2) * self.width, (x + w * (1 + keep) / 2) * self.width
        y0, y1 = (y + h * (1 - keep) / 2) * self.height, (y + h * (1 + keep) / 2) * self.height
        x0i, y0i = round(x0), round(y0)
        return (x0i, y0i, max(round(x1), x0i + 1), max(round(y1), y0i + 1))


def _stats(integral: np.ndarray, squares: np.ndarray, boxes: np.ndarray,
           ) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of the grey levels in each box (integral images)."""
    x0, y0, x1, y1 = boxes.T
    area = (x1 - x0) * (y1 - y0)
    total = integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0]
    square = squares[y1, x1] - squares[y0, x1] - squares[y1, x0] + squares[y0, x0]
    mean = total / area
    return mean, np.sqrt(np.maximum(square / area - mean * mean, 0.0))


class DisplayReader:
    """Reads one meter's LCD through one camera (module doc)."""

    def __init__(self, camera: Camera, layout: LcdLayout,
                 corners: Sequence[Sequence[float]] | None = None, rotate: int = 0, *,
                 max_frames: int = 8, timeout_s: float = 5.0) -> None:
        if rotate not in (0, 90, 180, 270):
            raise ValueError(f"rotate must be 0, 90, 180 or 270 degrees, got {rotate!r}")
        if corners is not None:
            if len(corners) != 4 or any(len(c) != 2 for c in corners):
                raise ValueError(f"corners must be four [x, y] points, got {corners!r}")
            quad = [(float(x), float(y)) for x, y in corners]
            shift = rotate // 90  # the LCD's top-left is that many corners further round
            corners = quad[shift:] + quad[:shift]
        if max_frames < 2:
            raise ValueError("max_frames must be at least 2 (two frames must agree)")
        self.camera = camera
        self.layout = layout
        self.corners = corners
        self.max_frames = max_frames
        self.timeout_s = timeout_s
        self._geo = _Geometry(layout)
        self._warp: tuple[tuple[int, int], np.ndarray] | None = None

    def _transform(self, shape: tuple[int, int]) -> np.ndarray:
        if self._warp is None or self._warp[0] != shape:
            h, w = shape
            quad = self.corners or [(0, 0), (w, 0), (w, h), (0, h)]
            g = self._geo
            dst = [(0, 0), (g.width, 0), (g.width, g.height), (0, g.height)]
            self._warp = (shape, cv2.getPerspectiveTransform(np.float32(quad), np.float32(dst)))
        return self._warp[1]

    def read_frame(self, frame: np.ndarray) -> FrameRead:
        """Judge one BGR (or grey) frame."""
        gray = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        g = self._geo
        rect = cv2.warpPerspective(gray, self._transform(gray.shape[:2]), (g.width, g.height),
                                   flags=cv2.INTER_LINEAR)
        integral, squares = cv2.integral2(rect, sdepth=cv2.CV_64F, sqdepth=cv2.CV_64F)
        shift = _best_shift(integral, squares, g)
        patches, patch_spread = _stats(integral, squares, g.glass + shift)
        glass = patches.reshape(g.cells, g.per_cell).mean(axis=1)
        if glass.max() >= GLASS_SATURATED:
            return FrameRead(None, 0.0, f"cell {int(glass.argmax()) + 1}: the glass is washed "
                             f"out (grey {glass.max():.0f}: glare or over-exposure)")
        if glass.min() <= GLASS_TOO_DARK:
            return FrameRead(None, 0.0, f"cell {int(glass.argmin()) + 1}: the glass is too "
                             f"dark (grey {glass.min():.0f})")
        uneven = np.abs(patches - np.repeat(glass, g.per_cell)) / np.repeat(glass, g.per_cell)
        if max(uneven.max(), (patch_spread / patches).max()) > MAX_UNEVEN:
            worst = int(np.argmax(np.maximum(uneven, patch_spread / patches)))
            return FrameRead(None, 0.0, f"cell {worst // g.per_cell + 1}: its bare glass is not "
                             "even (the corners do not fit the LCD, or something covers it)")
        ref = glass[g.refs]
        means, spread = _stats(integral, squares, g.boxes + shift)
        if (spread / ref).max() > MAX_UNEVEN:
            cell, name = g.names[int((spread / ref).argmax())]
            where = f"cell {cell + 1} segment {name}" if cell >= 0 else f"icon {name}"
            return FrameRead(None, 0.0, f"{where} is not even (half on, half off: the corners "
                             "do not fit the LCD)")
        dark = np.maximum(ref - means, 0.0)
        contrast = dark / ref
        if np.abs(ref - means).max() / ref.min() <= BLANK_MAX_CONTRAST:
            stray = _stray_dark(rect, glass, np.zeros(len(g.names), bool), shift, g,
                                LIT_MIN_CONTRAST * float(glass.min()))
            if stray:
                return FrameRead(None, 0.0, stray)
            edge = self._no_edge(gray, float(glass.mean()))
            if edge:
                return FrameRead(None, 0.0, edge)
            return FrameRead("", float(1.0 - contrast.max() / BLANK_MAX_CONTRAST))
        threshold, low, high = _split(dark)
        lit = dark > threshold
        if high - low < MIN_SEPARATION * high:
            return FrameRead(None, 0.0, f"lit and unlit segments differ by only "
                             f"{(high - low) / high:.0%}: too little contrast")
        if float(contrast[lit].mean()) < LIT_MIN_CONTRAST:
            return FrameRead(None, 0.0, f"the lit segments darken the glass only "
                             f"{contrast[lit].mean():.0%}: too little contrast")
        margin = np.abs(dark - threshold) / ((high - low) / 2)
        worst = int(margin.argmin())
        if margin[worst] < MIN_MARGIN:
            cell, name = g.names[worst]
            where = f"cell {cell + 1} segment {name}" if cell >= 0 else f"icon {name}"
            return FrameRead(None, float(margin[worst]), f"{where} is neither on nor off "
                             f"(darkness {dark[worst]:.0f}, threshold {threshold:.0f})")
        stray = _stray_dark(rect, glass, lit, shift, g, threshold)
        if stray:
            return FrameRead(None, 0.0, stray)
        cells: list[set[str]] = [set() for _ in range(g.cells)]
        icons: set[str] = set()
        for (cell, name), on in zip(g.names, lit, strict=True):
            if on:
                (cells[cell] if cell >= 0 else icons).add(name)
        text = decode(cells, icons)
        if text is None:
            shown = " ".join("".join(sorted(c)) or "_" for c in cells)
            return FrameRead(None, 0.0, f"segments [{shown}] icons {sorted(icons)} are not a "
                             "valid display")
        return FrameRead(text, float(min(1.0, margin.min())))

    def _no_edge(self, gray: np.ndarray, glass: float) -> str:
        """Why a frame with no segment lit cannot be taken for a blank LCD, else '': the band
        just outside the calibration corners must differ from the glass just inside them."""
        if self.corners is None:
            return ("no segment is lit and there are no calibration corners: a blank LCD "
                    "cannot be told from a uniform frame (declare the LCD's corners)")
        g = self._geo
        m = EDGE_GAP_PX + EDGE_BAND_PX
        shifted = np.array([[1, 0, m], [0, 1, m], [0, 0, 1]], np.float64) @ \
            self._transform(gray.shape[:2])
        size = (g.width + 2 * m, g.height + 2 * m)
        big = cv2.warpPerspective(gray, shifted, size, flags=cv2.INTER_LINEAR)
        seen = cv2.warpPerspective(np.full(gray.shape[:2], 255, np.uint8), shifted, size,
                                   flags=cv2.INTER_NEAREST) > 0
        outer = np.zeros(big.shape, bool)
        outer[:EDGE_BAND_PX, :] = outer[-EDGE_BAND_PX:, :] = True
        outer[:, :EDGE_BAND_PX] = outer[:, -EDGE_BAND_PX:] = True
        inner = np.zeros(big.shape, bool)
        a, b = m + EDGE_GAP_PX, m + EDGE_GAP_PX + EDGE_BAND_PX
        inner[a:b, a:-a] = inner[-b:-a, a:-a] = inner[a:-a, a:b] = inner[a:-a, -b:-a] = True
        visible = outer & seen
        if visible.sum() < EDGE_MIN_SEEN * outer.sum():
            return ("no segment is lit and the calibration corners lie at or beyond the "
                    "frame's edge: a blank LCD cannot be told from a uniform frame")
        inside, outside = float(big[inner].mean()), float(big[visible].mean())
        contrast = abs(inside - outside) / max(inside, outside, 1.0)
        if contrast < EDGE_MIN_CONTRAST:
            return (f"no LCD edge at the calibration corners: the glass (grey {inside:.0f}) "
                    f"and what lies round it (grey {outside:.0f}) differ by {contrast:.0%}; "
                    "a uniform frame, a covered lens or a camera not on the LCD")
        return ""

    def read(self) -> DisplayReading:
        """Frames until two consecutive ones agree; DisplayUnreadable if none do in time."""
        start = time.monotonic()
        previous: FrameRead | None = None
        why = "no frame taken"
        for n in range(1, self.max_frames + 1):
            if n > 1 and time.monotonic() - start > self.timeout_s:
                break
            result = self.read_frame(self.camera.frame())
            if result.text is None:
                why = result.why
                previous = None
                continue
            if previous is not None and previous.text == result.text:
                return DisplayReading(result.text, min(previous.confidence, result.confidence),
                                      n, time.monotonic() - start)
            if previous is not None:
                why = f"consecutive frames disagree ({previous.text!r}, {result.text!r})"
            previous = result
        raise DisplayUnreadable(f"camera {self.camera.name}: the display is unreadable: no two "
                                f"consecutive frames agreed in {n} frames "
                                f"({time.monotonic() - start:.1f} s); last: {why}")

    def read_until(self, predicate: Callable[[str], bool], timeout_s: float) -> DisplayReading:
        """Read until the display shows a text `predicate` accepts (e.g. a verdict, not the
        digits being typed); DisplayTimeout naming the last text seen when it never does."""
        deadline = time.monotonic() + timeout_s
        last = "nothing readable"
        while True:
            try:
                reading = self.read()
                if predicate(reading.text):
                    return reading
                last = repr(reading.text)
            except DisplayUnreadable as exc:
                last = f"unreadable ({exc})"
            if time.monotonic() >= deadline:
                raise DisplayTimeout(f"camera {self.camera.name}: the display did not show "
                                     f"what was awaited within {timeout_s:g} s; last: {last}")


def _stray_dark(rect: np.ndarray, glass: np.ndarray, lit: np.ndarray, shift: np.ndarray,
                g: _Geometry, threshold: float) -> str:
    """Why the frame cannot be trusted when dark areas lie outside every lit element (the
    corners do not fit the LCD and a segment falls between the boxes), else ''."""
    ref = np.interp(np.arange(g.width), g.centres, glass)[None, :]
    smooth = cv2.blur(rect, (5, 5)).astype(np.float32)
    dark = (ref - smooth) > threshold
    pad = STRAY_PAD_PX
    for x0, y0, x1, y1 in g.full[lit] + shift:
        dark[max(y0 - pad, 0):y1 + pad, max(x0 - pad, 0):x1 + pad] = False
    inset_x, inset_y = g.width // 40, g.height // 20
    dark = dark[inset_y:g.height - inset_y, inset_x:g.width - inset_x]
    count = int(dark.sum())
    if count > STRAY_MAX_PX:
        ys, xs = np.nonzero(dark)
        return (f"{count} dark pixels near ({int(xs.mean()) + inset_x}, "
                f"{int(ys.mean()) + inset_y}) of the rectified LCD lie outside every lit "
                "segment: the corners do not fit the LCD")
    return ""


def _best_shift(integral: np.ndarray, squares: np.ndarray, g: _Geometry) -> np.ndarray:
    """The small shift (within SEARCH_PX) of the sampling boxes that makes every box most even:
    corners measured a few pixels off still put each box inside its segment."""
    boxes = np.concatenate([g.boxes, g.glass])
    offsets = np.arange(-SEARCH_PX, SEARCH_PX + 1)
    dx, dy = (a.ravel() for a in np.meshgrid(offsets, offsets))
    shifts = np.stack([dx, dy, dx, dy], axis=1)[:, None, :]  # (K, 1, 4)
    moved = boxes[None, :, :] + shifts
    limit = np.array([g.width, g.height, g.width, g.height])
    moved = np.clip(moved, 0, limit)
    ok = ((moved[..., 2] > moved[..., 0]) & (moved[..., 3] > moved[..., 1])).all(axis=1)
    _, spread = _stats(integral, squares, moved.reshape(-1, 4))
    score = np.where(ok, spread.reshape(len(dx), -1).sum(axis=1), np.inf)
    return shifts[int(score.argmin()), 0]


def _split(values: np.ndarray) -> tuple[float, float, float]:
    """The threshold between the dark and the pale elements (Otsu's split, with the bare
    glass as a known pale point), and the two clusters' means."""
    v = np.sort(np.append(values, 0.0))
    n = len(v)
    csum = np.cumsum(v)
    k = np.arange(1, n)
    low = csum[:-1] / k
    high = (csum[-1] - csum[:-1]) / (n - k)
    between = k * (n - k) * (high - low) ** 2
    best = int(between.argmax())
    return float((low[best] + high[best]) / 2), float(low[best]), float(high[best])
