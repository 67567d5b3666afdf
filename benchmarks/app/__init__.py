"""``xray-bench serve``: a small web app and JSON API around a saved model.

:func:`create_app` builds the FastAPI application; :func:`serve` runs it
with uvicorn on 127.0.0.1. FastAPI and uvicorn are imported only here, when
the app is used (``pip install xray-bench[app]``).
"""

from benchmarks.app._server import create_app
from benchmarks.app._uploads import UploadLimits

__all__ = ["create_app", "serve", "UploadLimits", "require_app_extra", "MissingExtraError"]

_APP_MODULES = ("fastapi", "uvicorn", "python_multipart")


class MissingExtraError(ImportError, ValueError):
    """The app's optional libraries are not installed (a ValueError too, so
    that the command line reports it as a usage error, exit 2)."""


def require_app_extra():
    """Fail with the command that installs what the app needs, if it is missing.

    Raises
    ------
    MissingExtraError
        If FastAPI, uvicorn or python-multipart cannot be imported.
    """
    import importlib

    for module in _APP_MODULES:
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise MissingExtraError(
                f"serve needs the app's libraries, and {module} is not installed ({error}); "
                'install them with: pip install "xray-bench[app]"') from None


def serve(model_dir, *, host="127.0.0.1", port=8000, ood="refuse", limits=None):
    """Load the model (failing early with a clear error) and serve the app.

    Examples
    --------
    >>> serve("results/models/cnn-small")  # doctest: +SKIP
    """
    require_app_extra()
    import uvicorn

    _return_freed_pixels_to_the_system()

    app = create_app(model_dir, ood=ood, limits=limits)
    print(f"xray-bench: serving {model_dir} on http://{host}:{port}/ (Ctrl+C to stop)",
          flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _return_freed_pixels_to_the_system():
    """Fix glibc's mmap threshold at 1 MB in the server process.

    Once a large block is freed, glibc raises the threshold up to 32 MB and
    keeps later freed blocks below it in the arena of each thread; decoded
    films are such blocks, so the server would keep the peak of every worker
    thread (eight 4096 x 4096 uploads: 470 MB instead of 90 MB above idle).
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-3, 1 << 20)   # M_MMAP_THRESHOLD; glibc only
    except (OSError, AttributeError):
        pass
