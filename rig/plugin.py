"""The STS Rig pytest plugin (registered through the `pytest11` entry point)."""
