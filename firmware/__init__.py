"""Firmware that runs on the bench's own hardware (the keypad injector on a Raspberry Pi Pico)."""
