"""`python -m emulator`: the same as `rig emulate` (see emulator.emulated_bench).

The emulator outlives its stdin unless `--exit-on-stdin-eof` is given (an explicit flag, not
a guess from whether stdin is a pipe, so a shell pipeline behaves as a terminal does); a
parent that must not leave an emulator behind passes the flag and a pipe on stdin.
"""

import sys

from emulator.emulated_bench import main

sys.exit(main())
