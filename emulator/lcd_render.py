"""Draw the emulated meter's LCD, face-on, as a real one looks: the lit segments dark on pale
glass, and the unlit ones faintly visible (an LCD's ghosting).

The layout and font come from meterprofile.lcd, the same declaration the camera reader
decodes with, so what the emulated camera films is what the reader must read.
"""

from __future__ import annotations

import cv2
import numpy as np

from meterprofile.lcd import LcdLayout, Pattern, encode

GLASS_BGR = (176, 204, 192)     # pale grey-green of a PLN meter's LCD
SEGMENT_BGR = (52, 62, 56)      # a driven segment
SEGMENT_GAP = 0.08              # fraction of a segment's thickness left clear at each end


def render_lcd(text: str, layout: LcdLayout, *, width: int = 640, ghosting: float = 0.08,
               ) -> np.ndarray:
    """The LCD showing `text` (through `encode`), `width` pixels wide, as a BGR image.

    `ghosting` is how dark an unlit segment looks, as a fraction of a lit one (0 = invisible).
    """
    return render_pattern(encode(text, layout), layout, width=width, ghosting=ghosting)


def render_pattern(pattern: Pattern, layout: LcdLayout, *, width: int = 640,
                   ghosting: float = 0.08) -> np.ndarray:
    """The LCD lighting exactly `pattern`'s segments and icons, as a BGR image."""
    height = max(1, round(width / layout.aspect))
    image = np.empty((height, width, 3), np.uint8)
    image[:] = GLASS_BGR
    ghost = tuple(round(g + (s - g) * ghosting) for g, s in zip(GLASS_BGR, SEGMENT_BGR,
                                                                  strict=True))
    for (cx, cy, cw, ch), lit in zip(layout.cells, pattern.cells, strict=True):
        for name, (sx, sy, sw, sh) in layout.segments.items():
            box = (cx + sx * cw, cy + sy * ch, sw * cw, sh * ch)
            colour = SEGMENT_BGR if name in lit else ghost
            if name == "dp":
                _fill_box(image, box, colour, width, height)
            else:
                _fill_segment(image, box, colour, width, height)
    for name, box in layout.icons.items():
        _fill_box(image, box, SEGMENT_BGR if name in pattern.icons else ghost, width, height)
    return image


def _fill_box(image: np.ndarray, box: tuple[float, float, float, float],
              colour: tuple[int, ...], width: int, height: int) -> None:
    x, y, w, h = box
    p0 = (round(x * width), round(y * height))
    p1 = (round((x + w) * width) - 1, round((y + h) * height) - 1)
    cv2.rectangle(image, p0, p1, colour, thickness=-1, lineType=cv2.LINE_AA)


def _fill_segment(image: np.ndarray, box: tuple[float, float, float, float],
                  colour: tuple[int, ...], width: int, height: int) -> None:
    """A segment as LCDs draw it: a bar with pointed ends (a stretched hexagon)."""
    x, y, w, h = box[0] * width, box[1] * height, box[2] * width, box[3] * height
    if w >= h:  # horizontal: points left and right
        gap, half = SEGMENT_GAP * h, h / 2
        pts = [(x + gap, y + half), (x + gap + half, y), (x + w - gap - half, y),
               (x + w - gap, y + half), (x + w - gap - half, y + h), (x + gap + half, y + h)]
    else:       # vertical: points up and down
        gap, half = SEGMENT_GAP * w, w / 2
        pts = [(x + half, y + gap), (x + w, y + gap + half), (x + w, y + h - gap - half),
               (x + half, y + h - gap), (x, y + h - gap - half), (x, y + gap + half)]
    poly = np.array([[round(px * 16), round(py * 16)] for px, py in pts], np.int32)
    cv2.fillPoly(image, [poly], colour, lineType=cv2.LINE_AA, shift=4)
