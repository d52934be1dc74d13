"""MicroPython entry point on the Raspberry Pi Pico: the injector on the USB serial port.

Copy protocol.py, injector.py, board.py and this file to the board (e.g. `mpremote cp
protocol.py injector.py board.py main.py :`); it starts at power-up. The USB CDC port
ignores the baud rate; the rig opens it at 115200 8N1 like any injector. Ctrl-C is disabled
so that line noise (a 0x03 byte) cannot stop the firmware; to get the REPL back, hold the
BOOTSEL button while plugging in and reflash, or use `mpremote` (its raw REPL entry still
works on boot).
"""

import select
import sys
import time

import board
import injector
import micropython


def run() -> None:
    micropython.kbd_intr(-1)
    outputs = board.PicoOutputs()
    clock = injector.Clock(time.ticks_us, time.ticks_diff, time.sleep_us)
    device = injector.Injector(outputs, clock, serial=board.serial_number())
    reader = injector.LineReader()
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    poll = select.poll()
    poll.register(sys.stdin, select.POLLIN)
    while True:
        clock.now_us()  # folds the wrapping ticks in, at least every poll timeout
        if not poll.poll(100):
            continue
        data = stdin.read(1)
        if not data:
            continue
        try:
            reply = injector.serve_bytes(device, reader, data)
        except Exception as exc:  # the firmware never dies of what it was sent
            device.release_all()
            reply = b"ERR internal error: " + str(exc).encode() + b"\r\n"
        if reply:
            stdout.write(reply)


run()
