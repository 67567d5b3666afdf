"""Ctrl-C and SIGTERM honoured across a library call that would swallow them.

XGBoost reads its data through ctypes callbacks and catches only
``Exception`` there: a ``KeyboardInterrupt`` raised by a signal handler
inside such a callback is printed by ctypes as "Exception ignored" and lost,
and the call carries on. Within :func:`signals_honoured`, a SIGINT or
SIGTERM raises an ``Exception`` instead, which XGBoost's callbacks pass on
to the caller as they do any error, so the call stops; when it has ended,
however it ended, the usual handler runs, so the signal ends the work as
it should (``KeyboardInterrupt``, or the command's own exception).
"""

import contextlib
import os
import signal
import threading

__all__ = ["signals_honoured"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def signals_honoured():
    """Re-deliver a SIGINT or SIGTERM that a library call swallowed.

    Outside the main thread (where handlers cannot be set) it does nothing.

    Examples
    --------
    >>> with signals_honoured():
    ...     pass
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    noticed = []
    previous = {signum: signal.getsignal(signum) for signum in _SIGNALS}

    def note(signum, frame):
        noticed.append(signum)
        raise _SignalReceived(signum)

    for signum in _SIGNALS:
        signal.signal(signum, note)
    try:
        yield
    except Exception:
        if not noticed:
            raise
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if noticed:   # the call stopped (or carried on) after a signal: deliver it now
        _deliver(noticed[0], previous[noticed[0]], None)


class _SignalReceived(Exception):
    """Raised by the handler in place of KeyboardInterrupt: libraries pass an
    Exception raised in their callbacks on to the caller."""

    def __init__(self, signum):
        super().__init__(f"signal {signum} received")


def _deliver(signum, handler, frame):
    if callable(handler):
        handler(signum, frame)
    elif handler == signal.SIG_DFL:
        # What the process would have done without us: the default action.
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
