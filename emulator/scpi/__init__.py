"""SCPI instruments of the emulated bench, served over TCP on 127.0.0.1."""
