"""STS Rig: a pytest-based test rig controller for STS prepaid electricity meters."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sts-rig")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"
