"""The keypad injector's firmware: protocol.py (the protocol's grammar, shared with the emulated
injector), injector.py (its logic), board.py and main.py (the Pico), host.py (a host, for tests).
On the board the files are flat modules; this package only lets the emulator import protocol.py."""
