"""``xray-bench serve``: a small web app and JSON API around a saved model.

:func:`create_app` builds the FastAPI application; :func:`serve` runs it
with uvicorn on 127.0.0.1. FastAPI and uvicorn are imported only here, when
the app is used (``pip install xray-bench[app]``).
"""

from benchmarks.app._server import create_app
from benchmarks.app._uploads import UploadLimits

__all__ = ["create_app", "serve", "UploadLimits"]


def serve(model_dir, *, host="127.0.0.1", port=8000, ood="refuse", limits=None):
    """Load the model (failing early with a clear error) and serve the app.

    Examples
    --------
    >>> serve("results/models/cnn-small")  # doctest: +SKIP
    """
    import uvicorn

    app = create_app(model_dir, ood=ood, limits=limits)
    print(f"xray-bench: serving {model_dir} on http://{host}:{port}/ (Ctrl+C to stop)",
          flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
