"""A run stopped by SIGTERM is said in one plain line, not as a crash.

The session turns SIGTERM into `KeyboardInterrupt("SIGTERM")` so that pytest stops the run
the clean way (fixtures torn down, the bench put safe, the report written). pytest then
reports it as it reports a Ctrl-C: "!!!! KeyboardInterrupt: SIGTERM !!!!" and the source
line where the signal landed, which reads as a crash. pytest has no hook for that text, so
this plugin object replaces the reporter's one method that writes it, for a SIGTERM only:
the one line is rig.plugin's "rig: run stopped by SIGTERM in <test> after n of m tests; the
bench is in its safe state", written before pytest's summary. The same for the rig's own
`pytest.exit` (a bench that did not come up): rig.plugin has said why, pytest's
"! Exit: ... !" line would say it again. And a file pytest writes at the end that the disk
cannot hold (junit.xml on a full disk) is one line, not an INTERNALERROR traceback; `rig run`
then exits 3, its report missing.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

PLUGIN_NAME = "rig-stop-notice"


class StopNotice:
    """Registered by rig.plugin; acts only on the session's SIGTERM and the rig's exits."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl(trylast=True)  # after the terminal reporter kept the exception
    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        value = excinfo.value
        sigterm = isinstance(value, KeyboardInterrupt) and str(value) == "SIGTERM"
        ours = isinstance(value, pytest.exit.Exception) and str(value.msg).startswith("rig: ")
        if not (sigterm or ours):
            return
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None and hasattr(reporter, "_report_keyboardinterrupt"):
            reporter._report_keyboardinterrupt = _said_already


    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> Iterator[None]:
        try:
            return (yield)
        except OSError as exc:  # a full disk, a folder gone: said once, the run's end goes on
            where = f" {exc.filename}" if exc.filename else ""
            print(f"rig: cannot write{where}: {exc.strerror or exc}")
            return None


def _said_already() -> None:
    """In place of pytest's KeyboardInterrupt block: the stop was said in rig's line."""
