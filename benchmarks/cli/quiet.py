"""Keep TensorFlow's native log lines off the command line's stderr.

TensorFlow's C++ side writes notices (oneDNN, "Could not find cuda drivers",
"failed call to cuInit") straight to file descriptor 2, some of them before
its log level is even read, so ``--quiet`` cannot stop them from Python.
Unless ``--verbose`` is given (or the user set ``TF_CPP_MIN_LOG_LEVEL``
themselves), the command sets ``TF_CPP_MIN_LOG_LEVEL=3`` before TensorFlow
loads and imports it once with file descriptor 2 pointed at ``/dev/null``.
Python errors of that import are still raised (and reported) as usual.
Only the ``xray-bench`` command does this; the library never touches the
process's environment or file descriptors.
"""

import importlib.util
import os
import sys

__all__ = ["silence_tensorflow"]

#: Environment variables set (when absent) before TensorFlow loads.
QUIET_ENVIRONMENT = {"TF_CPP_MIN_LOG_LEVEL": "3", "GRPC_VERBOSITY": "ERROR"}


def silence_tensorflow(*, verbose, needs_tensorflow, environ=None):
    """Set the quiet logging variables and import TensorFlow quietly.

    Parameters
    ----------
    verbose : bool
        ``--verbose``: change nothing.
    needs_tensorflow : bool
        Whether the command will use TensorFlow (it is imported now, quietly,
        rather than later with its notices).
    environ : mapping, optional
        The environment (default ``os.environ``).

    Returns
    -------
    silenced : bool
        Whether TensorFlow was imported with its native notices discarded.

    Examples
    --------
    >>> env = {"TF_CPP_MIN_LOG_LEVEL": "0"}
    >>> silence_tensorflow(verbose=False, needs_tensorflow=False, environ=env)
    False
    >>> env["TF_CPP_MIN_LOG_LEVEL"]  # the user's value is kept
    '0'
    """
    environ = os.environ if environ is None else environ
    if verbose:
        return False
    user_chose = "TF_CPP_MIN_LOG_LEVEL" in environ
    for key, value in QUIET_ENVIRONMENT.items():
        environ.setdefault(key, value)
    if user_chose or not needs_tensorflow or "tensorflow" in sys.modules \
            or importlib.util.find_spec("tensorflow") is None:
        return False
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow  # noqa: F401  (loaded now so its notices go nowhere)
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return True
