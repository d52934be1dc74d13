import sys

from emulator.bench import main

sys.exit(main())
