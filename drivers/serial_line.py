"""What the serial drivers share about the line itself, whatever carries it."""

from __future__ import annotations

import serial
import serial.rfc2217


def drop_unread(ser: serial.SerialBase) -> None:
    """Drop whatever has arrived and not been read: a late answer to an earlier message must
    never be taken for the answer to the next one.

    A local port (a tty, a pty) is purged by its driver. Over RFC 2217 (a port exported by
    labgrid, `rfc2217://host:port`), `reset_input_buffer` is a PURGE request whose
    acknowledgement pyserial's client waits for in steps of 50 ms, so every exchange would
    cost at least 50 ms, 10 bench seconds at 200x: there the bytes already received are read
    away instead, which drops the same stale answer.
    """
    if not isinstance(ser, serial.rfc2217.Serial):
        ser.reset_input_buffer()
        return
    waiting = ser.in_waiting
    while waiting:
        ser.read(waiting)
        waiting = ser.in_waiting
