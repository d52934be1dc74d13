"""How well and how fast the camera reader reads the emulated LCD, across camera settings.

Renders frames of every message and of random numbers through the emulated bench camera
(JPEG over HTTP on 127.0.0.1), reads them with drivers.segment_reader.DisplayReader, and prints per
setting: reads/s, ms per read (a read is >= 2 frames, fetched and rendered), the reader's
own ms per frame, the share read correctly, unreadable reads, and wrong texts returned as if
read. Targets: >= 99.9 % correct at the default settings, 0 wrong texts everywhere, <= 50 ms
a read.

    .venv/bin/python benchmarks/bench_display.py [--frames 10000] [--other-frames 1000]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from drivers.segment_reader import DisplayReader, DisplayUnreadable, open_camera
from emulator.camera import CameraServer, CameraSettings
from meterprofile.lcd import DEFAULT_LAYOUT, canonical

MESSAGES = ["BENAR", "GAGAL", "USED", "USANG", "OVER", "PERIKSA", "BLOKIR", "KCT 1", "KCT 2",
            "", "-", "1.0.0", "TI 01", "MUTE", "RELAY TEST", "TAMPER 0", "30 min"]
SETTINGS: list[tuple[str, dict[str, float]]] = [
    ("default", {}),
    ("oblique", {"perspective": 1.0}),
    ("defocus", {"blur": 2.5}),
    ("noisy", {"noise": 12.0}),
    ("glare", {"glare": 0.3, "exposure": 0.8}),
    ("dim", {"exposure": 0.5}),
    ("bright", {"exposure": 1.08}),
    ("ghosting", {"ghosting": 0.25}),
    ("jpeg q30", {"jpeg_quality": 30}),
    ("all a bit", {"perspective": 0.6, "blur": 1.8, "noise": 8.0, "glare": 0.2,
                   "ghosting": 0.15, "jpeg_quality": 60}),
    ("washed out", {"glare": 1.0}),
    ("too dark", {"exposure": 0.15}),
    ("unsharp", {"blur": 6.0}),
]


def random_text(rng: random.Random) -> str:
    kind = rng.randrange(6)
    if kind == 0:
        return rng.choice(MESSAGES)
    if kind == 1:
        return f"{rng.uniform(0, 936):.2f}"
    if kind == 2:
        return f"{rng.uniform(0, 999):.2f} kWh"
    if kind == 3:
        return rng.choice([f"{rng.uniform(180, 260):.1f} V", f"{rng.uniform(0, 60):.3f} A",
                           f"{rng.uniform(0, 14000):.0f} W", f"{rng.uniform(45, 55):.2f} Hz"])
    if kind == 4:
        return str(rng.randrange(10 ** rng.randint(1, 8)))
    return "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 20)))  # typing


def run(name: str, changes: dict[str, float], frames: int, rng: random.Random) -> dict:
    shown = {"text": ""}
    server = CameraServer(lambda: shown["text"], DEFAULT_LAYOUT, CameraSettings(**changes),
                          seed=rng.randrange(2**32))
    server.start()
    reader = DisplayReader(open_camera(server.url), DEFAULT_LAYOUT, server.corners)
    reads = right = wrong = unreadable = taken = 0
    decode_s = read_s = 0.0
    wrongs: list[str] = []
    texts = [*MESSAGES] + [random_text(rng) for _ in range(frames)]
    try:
        for text in texts:
            if taken >= frames:
                break
            shown["text"] = text
            t0 = time.perf_counter()
            try:
                reading = reader.read()
                n = reading.frames
            except DisplayUnreadable:
                reading, n = None, reader.max_frames
            read_s += time.perf_counter() - t0
            reads += 1
            taken += n
            if reading is None:
                unreadable += 1
            elif reading.text == canonical(text):
                right += 1
            else:
                wrong += 1
                wrongs.append(f"{text!r} read as {reading.text!r}")
        frame = reader.camera.frame()
        t0 = time.perf_counter()
        for _ in range(50):
            reader.read_frame(frame)
        decode_s = (time.perf_counter() - t0) / 50
    finally:
        server.stop()
    return {"name": name, "frames": taken, "reads": reads, "right": right, "wrong": wrong,
            "unreadable": unreadable, "read_ms": 1000 * read_s / reads,
            "reads_s": reads / read_s, "decode_ms": 1000 * decode_s, "wrongs": wrongs[:5]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=10_000,
                        help="frames at the default settings (default 10000)")
    parser.add_argument("--other-frames", type=int, default=1_000,
                        help="frames at each other setting (default 1000)")
    parser.add_argument("--seed", type=int, default=62055)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    print(f"{'setting':<11} {'frames':>6} {'reads':>6} {'reads/s':>7} {'ms/read':>7} "
          f"{'ms/frame':>8} {'correct':>8} {'unread':>6} {'wrong':>5}")
    total_wrong = 0
    for name, changes in SETTINGS:
        r = run(name, changes, args.frames if name == "default" else args.other_frames, rng)
        total_wrong += r["wrong"]
        print(f"{r['name']:<11} {r['frames']:>6} {r['reads']:>6} {r['reads_s']:>7.1f} "
              f"{r['read_ms']:>7.1f} {r['decode_ms']:>8.2f} "
              f"{100 * r['right'] / r['reads']:>7.2f}% {r['unreadable']:>6} {r['wrong']:>5}",
              flush=True)
        for line in r["wrongs"]:
            print(f"    wrong: {line}")
    print(f"wrong texts returned as if read, all settings: {total_wrong}")
    return 1 if total_wrong else 0


if __name__ == "__main__":
    sys.exit(main())
