"""Root conftest: makes the STS Rig plugin available to `pytest testplans` from a source tree.

An installed rig registers the plugin through its `pytest11` entry point; a checkout that
was not installed gets it from here instead (registering it twice would be an error).
"""

from importlib.metadata import entry_points

if not any(ep.name == "rig.plugin" for ep in entry_points(group="pytest11")):
    pytest_plugins = ["rig.plugin"]
