"""The FastAPI application behind ``xray-bench serve``.

FastAPI with one plain HTML page was chosen over Streamlit because the whole
app is then testable in-process (``fastapi.testclient``, no server, no
browser) and in a real browser against the same routes, the JSON API is a
first-class, documented route (``/docs``), and uploads can be parsed in
memory with explicit limits.

Routes
------
``GET /``
    The page: upload films, see predictions, heatmaps, OOD verdicts, CSV.
``GET /api/info``
    The model: estimator, task, classes, OOD guard and mode, limits.
``POST /predict``
    ``multipart/form-data`` with one or more ``files`` parts; query
    ``explain`` (default true) and ``format`` ("json" or "csv"). Answers
    ``{"results": [...], "errors": [...]}``; each result has ``name``,
    ``sha256`` (the file's identity: its content, not its name), ``width``,
    ``height``, ``label``, ``probability``, ``probabilities``, ``ood``
    (``score``, ``flagged``, ``reason``, ``check``; null when off),
    ``refused``, ``preview`` and ``overlay`` (PNG data URLs); and ``csv``,
    the same table as ``format=csv`` (the page's "Download CSV"). Files that
    cannot be read are listed in ``errors`` with a message and a status;
    when no file could be read the answer is that status: 413 (file or
    image too large, or the request's pixel budget spent), 415 (not an
    image), 422 (corrupt or truncated), 400 (no files or too many).

Memory
------
Each file is decoded to at most the side the model works at (its
``input.json`` load size or its ``image_size``) or the preview side,
whichever is larger, as early as its decoder allows (see
:func:`xray_features.io.load_image_bytes_reduced`); its colour pixels are
reduced to one number (the mean chroma of the OOD colour check) as soon as
it is decoded. So a request keeps a few small images per file, the
full-size pixels of one file exist only while it is decoded, and at most
``UploadLimits.max_decodes`` files are decoded at once on the whole server;
``UploadLimits.max_request_pixels`` bounds the decoding work of a request.
"""

import base64
import hashlib
import threading

import numpy as np

from benchmarks.app._page import PAGE
from benchmarks.app._uploads import UploadError, UploadLimits, read_uploads
from benchmarks.results.csv_cells import frame_to_csv

__all__ = ["create_app"]

_PREVIEW_SIDE = 384


def _status_of(reason):
    if reason.startswith("not a recognised image format") or "not an image" in reason:
        return 415
    if "max_pixels" in reason or "pixel budget" in reason or reason.startswith("image too"):
        return 413
    return 422


def _png_data_url(rgb_or_gray):
    import cv2

    array = np.asarray(rgb_or_gray)
    height, width = array.shape[:2]
    scale = min(1.0, _PREVIEW_SIDE / max(height, width))
    if scale < 1.0:
        array = cv2.resize(array, (max(1, round(width * scale)), max(1, round(height * scale))),
                           interpolation=cv2.INTER_AREA)
    if array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".png", array)
    return "data:image/png;base64," + base64.b64encode(encoded.tobytes()).decode("ascii")


def _finite(value):
    return None if value is None or not np.isfinite(value) else float(value)


def _working_side(predictor):
    """The longest side an upload is decoded at: the model's working size or
    the preview's, whichever is larger (the model's input pipeline resizes
    from there)."""
    sides = [_PREVIEW_SIDE]
    models = [predictor.model, *getattr(predictor.model, "estimators_", [])]
    for size in [predictor.load_size] + [_model_size(model) for model in models]:
        if size is not None:
            sides.extend(size if isinstance(size, (list, tuple)) else [size])
    return int(max(sides))


def _model_size(model):
    resolved = getattr(model, "_resolved_image_size", None)
    return resolved() if resolved is not None else getattr(model, "image_size", None)


class _Service:
    """The loaded model and the work of one request (one at a time: Keras
    models are not safe to call from several threads at once)."""

    def __init__(self, model_dir, *, ood, limits):
        from benchmarks.predict import OOD_MODES, Predictor

        if ood not in OOD_MODES:
            raise ValueError(f"ood must be one of {OOD_MODES}; got {ood!r}")
        self.predictor = Predictor(model_dir)
        self.ood = ood
        self.limits = limits
        self.lock = threading.Lock()
        self.decoding = threading.BoundedSemaphore(limits.max_decodes)
        self.side = _working_side(self.predictor)

    def info(self):
        model = self.predictor.model
        return {"estimator": type(model).__name__, "task": self.predictor.task,
                "classes": self.predictor.class_names,
                "ood_guard": self.predictor.has_guard, "ood_mode": self.ood,
                "limits": self.limits.describe()}

    def warm_up(self):
        """One prediction and explanation on a dummy film, so that the first
        real request does not pay for graph building."""
        rng = np.random.default_rng(0)
        dummy = rng.integers(40, 200, (96, 96), dtype=np.uint8)
        self.analyse([("warm-up", dummy.tobytes(), dummy, None, dummy.shape)], explain=True)

    def decode(self, uploads):
        """Decode each upload at the working side; drop its bytes once done."""
        from classifiers.ood import colour_chroma
        from xray_features.io import ImageLoadError, load_image_bytes_reduced

        decoded, errors, budget = [], [], self.limits.max_request_pixels
        for upload in uploads:
            data, upload.data = upload.data, bytearray()
            digest = hashlib.sha256(data).hexdigest()
            allowed = min(self.limits.max_pixels, budget)
            try:
                with self.decoding:
                    reduced = load_image_bytes_reduced(data, name=upload.name,
                                                       max_side=self.side,
                                                       max_pixels=max(1, allowed))
            except ImageLoadError as error:
                reason = error.reason
                if allowed < self.limits.max_pixels and "max_pixels" in reason:
                    reason = (f"the request's pixel budget ({self.limits.max_request_pixels} "
                              f"pixels, --max-request-pixels) is spent; {budget} pixels were "
                              "left for this file: send it in another request")
                errors.append({"name": upload.name, "sha256": digest,
                               "status": _status_of(reason), "error": reason})
                continue
            del data
            height, width = reduced.source_shape
            budget -= height * width
            # The colour check needs one number: keep it, not the pixels.
            chroma = None if reduced.colour is None else colour_chroma(reduced.colour)
            decoded.append((upload.name, digest, self.predictor.prepare(reduced.image), chroma,
                            reduced.source_shape))
        return decoded, errors

    def analyse(self, decoded, *, explain):
        from classifiers.explanations import overlay

        names, digests, images, colours, shapes = zip(*decoded)
        with self.lock:
            rows, explanations = self.predictor.predict(list(images), colours=list(colours),
                                                        ood=self.ood, explain=explain)
        results = []
        for i, row in enumerate(rows):
            refused = self.ood == "refuse" and bool(row["ood_flag"])
            image = images[i]
            probabilities = {} if refused else {
                name: float(row[f"proba_{name}"]) for name in self.predictor.class_names}
            result = {
                "name": names[i], "sha256": digests[i],
                "width": int(shapes[i][1]), "height": int(shapes[i][0]),
                "label": None if refused else row["label"],
                "probability": None if refused else _finite(row["probability"]),
                "probabilities": probabilities,
                "ood": None if self.ood == "off" else {
                    "score": _finite(row["ood_score"]), "flagged": bool(row["ood_flag"]),
                    "reason": row["ood_reason"]},
                "refused": refused,
                "preview": _png_data_url(_display(image)),
                "overlay": None,
            }
            if explanations is not None and explanations[i] is not None:
                result["overlay"] = _png_data_url(overlay(image, explanations[i].heatmap()))
            results.append(result)
        return results


def _display(image):
    from xray_features.preprocess import to_uint8

    return to_uint8(image)


def _csv(results, class_names):
    """The results as CSV, through the toolkit's one CSV writer, so that a file
    named ``=1+1.png`` is not run as a formula by a spreadsheet."""
    import pandas as pd


    columns = ["file", "sha256", "label", "probability", *[f"proba_{c}" for c in class_names],
               "ood_score", "ood_flag", "ood_reason"]
    rows = []
    for r in results:
        ood = r["ood"] or {}
        rows.append([r["name"], r["sha256"], r["label"] or "", r["probability"],
                     *[r["probabilities"].get(c) for c in class_names], ood.get("score"),
                     ood.get("flagged", ""), ood.get("reason", "")])
    return frame_to_csv(pd.DataFrame(rows, columns=columns))


def create_app(model_dir, *, ood="refuse", limits=None, warm_up=True):
    """Build the app for a saved model.

    Parameters
    ----------
    model_dir : str or Path
        A directory written by ``save`` or ``xray-bench run --save-models``.
    ood : {"refuse", "flag", "off"}, default="refuse"
        What to do with films unlike the training images.
    limits : UploadLimits, optional
        Upload size, pixel count and file count limits.
    warm_up : bool, default=True
        Run one dummy prediction at start so the first request is fast.

    Returns
    -------
    app : fastapi.FastAPI

    Raises
    ------
    classifiers.persistence.ModelLoadError
        If the model directory is missing, altered or from another version.

    Examples
    --------
    >>> app = create_app("results/models/cnn-small")  # doctest: +SKIP
    """
    from fastapi import FastAPI, Request
    from fastapi.concurrency import run_in_threadpool
    from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse


    limits = UploadLimits() if limits is None else limits
    if not isinstance(limits, UploadLimits):
        raise TypeError(f"limits must be an UploadLimits; got {type(limits).__name__}")
    service = _Service(model_dir, ood=ood, limits=limits)
    if warm_up:
        service.warm_up()
    app = FastAPI(title="xray-bench", description="Classify X-ray films with a saved "
                  "xray-bench model; nothing uploaded is stored.", version="1")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page():
        return PAGE

    @app.get("/api/info")
    def info():
        """The model served, its out-of-distribution mode and the upload limits."""
        return service.info()

    @app.post("/predict")
    async def predict(request: Request, explain: bool = True, format: str = "json"):
        """Classify uploaded films (multipart field ``files``, one or many)."""
        if format not in ("json", "csv"):
            return JSONResponse({"detail": f"format must be 'json' or 'csv'; got "
                                           f"{format!r}"}, status_code=400)
        try:
            uploads = await read_uploads(request, limits)
        except UploadError as error:
            return JSONResponse({"detail": str(error), "errors": []},
                                status_code=error.status)
        decoded, errors = await run_in_threadpool(service.decode, uploads)
        if not decoded:
            statuses = {e["status"] for e in errors}
            status = statuses.pop() if len(statuses) == 1 else 422
            detail = errors[0]["error"] if len(errors) == 1 else \
                f"none of the {len(errors)} files could be read as an image"
            return JSONResponse({"detail": detail, "errors": errors}, status_code=status)
        results = await run_in_threadpool(service.analyse, decoded, explain=explain)
        table = _csv(results, service.predictor.class_names)
        if format == "csv":
            return PlainTextResponse(table, media_type="text/csv")
        return {"results": results, "errors": errors, "csv": table}

    return app
