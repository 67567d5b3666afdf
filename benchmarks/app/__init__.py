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

    app = create_app(model_dir, ood=ood, limits=limits)
    print(f"xray-bench: serving {model_dir} on http://{host}:{port}/ (Ctrl+C to stop)",
          flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
