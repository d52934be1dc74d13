"""The emulated bench: an STS prepaid meter, a keypad injector and lab instruments.

One process (`rig emulate`) serves them on the same wires a real bench uses: the meter's
optical port and the injector on pseudo-terminals, the instruments as SCPI servers on
127.0.0.1. `emulator.model.BenchModel` is the one physical model they all see.
"""
