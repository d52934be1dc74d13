"""The bench: its configuration, its devices, the run session and the operator."""
