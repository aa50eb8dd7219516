"""Ctrl-C, SIGTERM and SIGHUP as one orderly exception, deferred while a record is being written.

`snnbench` installs `handling_interrupts()` around a command: SIGINT, SIGTERM and SIGHUP raise
`Interrupted` in the main thread (no KeyboardInterrupt traceback), which the runner turns into
a failed record of kind "interrupted" and the command into exit status 130. Inside
`deferred()` (appending a record, publishing data files) a signal is only noted and raised when
the block ends, so a record is never cut in half by the user's key press.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator

EXIT_INTERRUPTED = 130  # the shell's 128 + SIGINT
# SIGHUP too: a closed terminal or a dropped ssh session stops a long sweep like Ctrl-C does.
HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_state = threading.local()
_pending: list[int] = []


class Interrupted(KeyboardInterrupt):
    """SIGINT, SIGTERM or SIGHUP reached snnbench. A KeyboardInterrupt, so `except Exception` blocks do
    not swallow it and library callers catch it as they would Ctrl-C. `detail` says what was
    kept (the record written for the run in progress, the sweep points done)."""

    def __init__(self, signum: int, detail: str = ""):
        self.signum = signum
        self.detail = detail
        super().__init__(signal.Signals(signum).name)

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    def add_detail(self, note: str) -> None:
        """Append what one more layer kept (e.g. a sweep's points done) to `detail`."""
        self.detail = f"{self.detail}; {note}" if self.detail else note


def _depth() -> int:
    return getattr(_state, "depth", 0)


def _handler(signum: int, frame) -> None:  # noqa: ARG001 - the signal module's signature
    if _depth() > 0:
        _pending.append(signum)
        return
    raise Interrupted(signum)


@contextmanager
def deferred() -> Iterator[None]:
    """Hold back Interrupted until the block is done (only where handling_interrupts is active)."""
    _state.depth = _depth() + 1
    try:
        yield
    finally:
        _state.depth -= 1
        if _state.depth == 0 and _pending and threading.current_thread() is threading.main_thread():
            signum = _pending.pop()
            _pending.clear()
            raise Interrupted(signum)


def take_pending() -> int | None:
    """The signal held back by `deferred()`, if any, now handled by the caller (and forgotten)."""
    if not _pending:
        return None
    signum = _pending[-1]
    _pending.clear()
    return signum


@contextmanager
def handling_interrupts() -> Iterator[None]:
    """SIGINT/SIGTERM/SIGHUP raise Interrupted inside the block; the previous handlers come back after.

    Outside the main thread (snnbench used as a library) nothing is installed.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    # A signal ignored on purpose (nohup, a background job of a script) stays ignored.
    previous = {sig: signal.signal(sig, _handler) for sig in HANDLED if signal.getsignal(sig) is not signal.SIG_IGN}
    _pending.clear()
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)  # None: set outside Python
