"""Host-side drivers, one per device kind, each over its own wire (pyserial, pyvisa).

They know nothing of pytest or of the emulator: the same code drives a meter on a lab bench
and the emulated bench.
"""
