"""The injector board's pin map, in one table, and its outputs on a Raspberry Pi Pico.

Each key has one opto-MOS relay (e.g. Panasonic AQY212EH or Toshiba TLP222A, 1 form A,
>= 3.75 kV isolation) whose LED a GPIO drives through a series resistor, and whose MOSFET
output is wired across that key's two contacts on the meter's keypad. The meter side is at
mains potential: nothing of it may reach the Pico or the USB host; see the README's wiring
note ("Keypad injectors: build or buy").

The sync output (ENTER held) drives one more opto-MOS whose output switches a 3.3 V supply
for the scope's channel 2 through a resistor, so the scope's ground is never the meter's.
"""

# key -> GPIO number (Pico pin numbers in the README). One table: change a pin here only.
PIN_MAP = {
    "1": 2, "2": 3, "3": 4,
    "4": 5, "5": 6, "6": 7,
    "7": 8, "8": 9, "9": 10,
    "BS": 11, "0": 12, "ENT": 13,
}
SYNC_PIN = 14          # high while ENTER is pressed (to the scope's CH2 through an opto-MOS)
LED_PIN = 25           # the Pico's own LED: lit while any key is pressed
ACTIVE_HIGH = True     # GPIO high = LED of the opto-MOS on = contact closed


class PicoOutputs:
    """The injector's outputs on machine.Pin (MicroPython only)."""

    def __init__(self) -> None:
        from machine import Pin

        self._pins = {key: Pin(gpio, Pin.OUT, value=not ACTIVE_HIGH)
                      for key, gpio in PIN_MAP.items()}
        self._sync = Pin(SYNC_PIN, Pin.OUT, value=not ACTIVE_HIGH)
        self._led = Pin(LED_PIN, Pin.OUT, value=0)

    def set(self, key: str, on: bool) -> None:
        self._pins[key].value(1 if on == ACTIVE_HIGH else 0)
        self._led.value(1 if on else 0)

    def set_sync(self, on: bool) -> None:
        self._sync.value(1 if on == ACTIVE_HIGH else 0)


def serial_number() -> str:
    """The RP2040 flash chip's unique id, hex (the *IDN? serial)."""
    import machine

    return "".join(f"{b:02X}" for b in machine.unique_id())
