"""The hostile inputs of :mod:`benchmarks.bench.bench_hostile`, as data.

Each :class:`Case` names a way to break a benchmarking tool and a builder
that makes the files of that case in a folder and returns the command to
run; :data:`CASES` lists them all. Builders are small composable functions
(``_in_class(make)`` puts one hostile file into a class folder of phantom
films, ``_csv_case(rows)`` adds rows to a labels CSV, ``_predict(make)``
saves a model first, ...), so a new case is usually one line.
"""

import dataclasses
import json
import os
import shutil
import sys
import zipfile
import zlib

import numpy as np

__all__ = ["CASES", "Case", "FAST"]

FAST = ["--models", "edge-xgb", "--set", "edge-xgb.n_estimators=5", "--image-size", "32",
        "--quiet"]


@dataclasses.dataclass(frozen=True)
class Case:
    """One hostile input: ``build(folder, corpus)`` makes it and returns a dict
    with ``argv`` (after ``xray-bench``), optional ``setup`` (commands run
    first, unmeasured), ``keep`` (files inside ``--out`` that must survive
    unchanged), ``check`` (a function of the case folder returning a
    problem or None) and ``shell`` (run ``argv`` through ``sh -c``)."""

    name: str
    side: str
    build: object
    expect: str
    phrase: str = None
    drop_root_reads: bool = False


# ------------------------------------------------------------------ builders
def _phantom_folder(folder, n_per_class=10):
    from xray_features.io import save_image
    from xray_features.synthetic import make_phantom_dataset

    images, labels, names = make_phantom_dataset("fracture", n_images=2 * n_per_class, size=32,
                                                 seed=0)
    for i, (image, label) in enumerate(zip(images, labels)):
        os.makedirs(os.path.join(folder, names[label]), exist_ok=True)
        save_image(os.path.join(folder, names[label], f"film_{i:02d}.png"), image)
    return folder, names


def _run(folder, *extra, data=None):
    return ["run", "--data", data or os.path.join(folder, "data"), *FAST,
            "--out", os.path.join(folder, "out"), *extra]


def _deep_png(path, width=8000, height=8000):
    """A genuine 16-bit RGBA PNG, compressed row by row (about 0.5 MB)."""
    def chunk(kind, body):
        return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(
            4, "big")
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([16, 6, 0, 0, 0])
    packer, row, parts = zlib.compressobj(9), b"\0" * (1 + width * 8), []
    for _ in range(height):
        parts.append(packer.compress(row))
    parts.append(packer.flush())
    with open(path, "wb") as handle:
        handle.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b""))


def _dicom(path, slope):
    from pydicom import config
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = FileDataset(path, {}, file_meta=meta, preamble=b"\0" * 128)
    dataset.Rows = dataset.Columns = 32
    dataset.SamplesPerPixel, dataset.PhotometricInterpretation = 1, "MONOCHROME2"
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = 16, 12, 11
    dataset.PixelRepresentation = 0
    dataset.PixelData = np.arange(1024, dtype=np.uint16).tobytes()
    previous = config.settings.writing_validation_mode
    config.settings.writing_validation_mode = config.IGNORE
    try:
        dataset.RescaleSlope, dataset.RescaleIntercept = slope, "0"
        dataset.save_as(path, enforce_file_format=True)
    finally:
        config.settings.writing_validation_mode = previous


def _npz_header(path, shape):
    from numpy.lib import format as npy_format
    import io

    with zipfile.ZipFile(path, "w") as archive:
        for name, dims in (("images", shape), ("labels", shape[:1])):
            buffer = io.BytesIO()
            npy_format.write_array_header_1_0(buffer, {"descr": "|u1", "fortran_order": False,
                                                       "shape": dims})
            archive.writestr(f"{name}.npy", buffer.getvalue())


def _zip_bomb(path, n_bytes=4 * 2 ** 30):
    """An .npz of zeros declaring ``n_bytes``: about 4 MB on disk."""
    from numpy.lib import format as npy_format

    side = 1024
    count = n_bytes // side ** 2
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("images.npy", "w", force_zip64=True) as handle:
            npy_format.write_array_header_1_0(handle, {"descr": "|u1", "fortran_order": False,
                                                       "shape": (count, side, side)})
            block = bytes(side ** 2)
            for _ in range(count):
                handle.write(block)
        archive.writestr("labels.npy", _npy_bytes(np.zeros(count, np.uint8)))


def _npy_bytes(array):
    import io

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _in_class(make):
    """A builder: the phantom folder plus one hostile file in a class folder."""
    def build(folder, corpus, strict=False):
        _, names = _phantom_folder(os.path.join(folder, "data"))
        make(os.path.join(folder, "data", names[0]), corpus)
        return {"argv": _run(folder, *(["--strict"] if strict else []))}
    return build


def _strict(build):
    return lambda folder, corpus: build(folder, corpus, strict=True)


def _sparse(path, size=20 * 2 ** 30):
    with open(path, "wb") as handle:
        handle.truncate(size)


def _csv_case(rows_of, *extra):
    """A builder: images/ + labels.csv whose extra rows come from ``rows_of(folder, corpus)``."""
    def build(folder, corpus):
        images = os.path.join(folder, "images")
        _, names = _phantom_folder(images)
        rows = [(f"{c}/{f}", c) for c in names for f in sorted(os.listdir(os.path.join(images, c)))]
        rows += rows_of(images, corpus)
        table = os.path.join(images, "labels.csv")
        with open(table, "w", encoding="utf-8") as handle:
            handle.write("file,label\n" + "".join(f"{f},{label}\n" for f, label in rows))
        return {"argv": _run(folder, *extra, data=table)}
    return build


def _non_utf8(class_dir, corpus):
    source = sorted(os.listdir(class_dir))[0]
    shutil.copyfile(os.path.join(class_dir, source), os.fsencode(class_dir) + b"/\xff.png")


def _symlinked_folder(class_dir, corpus):
    elsewhere = os.path.join(os.path.dirname(os.path.dirname(class_dir)), "elsewhere")
    os.makedirs(elsewhere)
    for name in sorted(os.listdir(class_dir))[:2]:
        shutil.copyfile(os.path.join(class_dir, name), os.path.join(elsewhere, "x" + name))
    os.symlink(elsewhere, os.path.join(class_dir, "linked"))


def _locked(path):
    os.makedirs(path)
    os.chmod(path, 0)


def _run_case_data(build_data, *extra):
    """A builder: ``build_data(folder, corpus)`` returns the --data source."""
    def build(folder, corpus):
        return {"argv": _run(folder, *extra, data=build_data(folder, corpus))}
    return build


def _npz(make):
    def data(folder, corpus):
        path = os.path.join(folder, "data.npz")
        make(path)
        return path
    return _run_case_data(data)


def _not_zip(path):
    np.save(path + ".npy", np.zeros(4))
    os.replace(path + ".npy", path)


def _objects(path):
    np.savez(path, images=np.array([None] * 4, dtype=object), labels=np.arange(4))
    if os.path.exists(path + ".npz"):
        os.replace(path + ".npz", path)


def _saved_model(folder):
    """Setup commands that save a model of a quick phantom run in folder/model-run."""
    return [["run", "--data", "phantoms:fracture", "--data-option", "n_images=24", *FAST,
             "--save-models", "--out", os.path.join(folder, "model-run")]]


def _predict(make_file, tamper=None):
    """A builder: a saved model (setup) and ``predict`` on ``make_file(folder, corpus)``."""
    def build(folder, corpus):
        model = os.path.join(folder, "model-run", "models", "edge-xgb")
        target = make_file(folder, corpus)
        extra = {"argv": ["predict", model, target]}
        if tamper:
            extra["after_setup"] = lambda: tamper(model)
        return {**extra, "setup": _saved_model(folder)}
    return build


def _film(folder, corpus):
    from xray_features.io import save_image

    return os.fspath(save_image(os.path.join(folder, "film.png"), np.full((32, 32), 90, np.uint8)))


def _fifo_file(folder, corpus):
    os.mkfifo(os.path.join(folder, "x.png"))
    return os.path.join(folder, "x.png")


def _set_input(key, value):
    def tamper(model):
        path = os.path.join(model, "input.json")
        info = json.load(open(path, encoding="utf-8"))
        info[key] = value
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(info, handle)
    return tamper


def _write_text(relative, text):
    def tamper(model):
        with open(os.path.join(model, relative), "w", encoding="utf-8") as handle:
            handle.write(text)
    return tamper


def _config(settings):
    def build(folder, corpus):
        _phantom_folder(os.path.join(folder, "data"))
        path = os.path.join(folder, "config.json")
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(settings, handle)
        return {"argv": _run(folder, "--config", path)}
    return build


def _setting(text):
    def build(folder, corpus):
        _phantom_folder(os.path.join(folder, "data"))
        return {"argv": _run(folder, "--set", text)}
    return build


def _foreign_out(*extra, files=("results.md", "models/mine.txt", "plots/mine.png")):
    def build(folder, corpus):
        _phantom_folder(os.path.join(folder, "data"))
        for name in files:
            path = os.path.join(folder, "out", name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(f"the user's own {name}\n")
        return {"argv": _run(folder, *extra), "keep": [f"out/{name}" for name in files]}
    return build


def _planted_links(folder, corpus):
    _phantom_folder(os.path.join(folder, "data"))

    def plant():
        plots = os.path.join(folder, "out", "plots")
        for name in sorted(os.listdir(plots)):
            target = os.path.join(corpus, "sentinel", f"{os.path.basename(folder)}-{name}")
            with open(target, "w", encoding="utf-8") as handle:
                handle.write("a file outside --out\n")
            os.remove(os.path.join(plots, name))
            os.symlink(target, os.path.join(plots, name))
    return {"setup": [_run(folder)], "after_setup": plant, "argv": _run(folder)}


def _out_inside_data(folder, corpus):
    _phantom_folder(os.path.join(folder, "data"))
    argv = ["run", "--data", os.path.join(folder, "data"), *FAST, "--out",
            os.path.join(folder, "data", "out")]

    def check(case_folder):
        record = os.path.join(case_folder, "data", "out", "run.json")
        if not os.path.exists(record):  # refused before any work
            return None
        with open(record, encoding="utf-8") as f:
            classes = json.load(f)["dataset"]["summary"]["class_names"]
        return f"trained on its own output as a class ({classes})" if "out" in classes else None
    return {"argv": argv + ["--fresh"], "out": "data/out", "check": check}


def _formula_rows(images, corpus):
    """Copies of a film named =1+1.png, +1+1.png, -1+1.png, @1+1.png, as CSV rows."""
    first = os.path.join(images, "intact", sorted(os.listdir(os.path.join(images, "intact")))[0])
    for prefix in "=+-@":
        shutil.copyfile(first, os.path.join(images, f"{prefix}1+1.png"))
    return [(f"{prefix}1+1.png", "intact") for prefix in "=+-@"]


def _formula_names(folder, corpus):
    spec = _csv_case(_formula_rows)(folder, corpus)

    def check(case_folder):
        bad = []
        for path, _, files in os.walk(os.path.join(case_folder, "out")):
            for name in (n for n in files if n.endswith(".csv")):
                with open(os.path.join(path, name), encoding="utf-8") as handle:
                    bad += [f"{name}: {cell}" for line in handle for cell in line.split(",")
                            if cell[:1] in "=+-@" and "1+1" in cell]
        return f"unescaped formula cells {bad[:2]}" if bad else None
    return {**spec, "check": check}


def _predict_overwrite(folder, corpus):
    film = _film(folder, corpus)
    table = os.path.join(folder, "mine.csv")
    with open(table, "w", encoding="utf-8") as handle:
        handle.write("the user's own table\n")
    return {"setup": _saved_model(folder), "keep": ["mine.csv"],
            "argv": ["predict", os.path.join(folder, "model-run", "models", "edge-xgb"), film,
                     "--output", table]}


def _report_over_a_user_file(folder, corpus):
    mine = os.path.join(folder, "mine")
    os.makedirs(mine)
    for name, text in (("run.json", '{"status": "finished"}'), ("report.html", "my page")):
        with open(os.path.join(mine, name), "w", encoding="utf-8") as handle:
            handle.write(text)
    return {"argv": ["report", mine], "keep": ["mine/report.html"], "out": "mine"}


def _inspect_inside_data(folder, corpus):
    _phantom_folder(os.path.join(folder, "data"))
    data = os.path.join(folder, "data")
    intact = os.path.join(data, "intact")
    before = sorted(os.listdir(intact))

    def check(case_folder):
        after = sorted(os.listdir(intact))
        return f"wrote among a class's images: {sorted(set(after) - set(before))}" \
            if after != before else None
    return {"argv": ["inspect", data, "--out", os.path.join(intact, "look"), "--quiet"],
            "out": "data/intact/look", "check": check}


def _explain_overwrite(folder, corpus):
    film = _film(folder, corpus)
    overlays = os.path.join(folder, "overlays")
    os.makedirs(overlays)
    with open(os.path.join(overlays, "film.explain.png"), "w", encoding="utf-8") as handle:
        handle.write("the user's own figure\n")
    return {"setup": _saved_model(folder), "keep": ["overlays/film.explain.png"],
            "out": "overlays",
            "argv": ["predict", os.path.join(folder, "model-run", "models", "edge-xgb"), film,
                     "--explain", overlays]}


def _damaged_part(folder, corpus):
    _phantom_folder(os.path.join(folder, "data"))
    part = os.path.join(folder, "out", "parts", "edge-xgb__fold0.csv")

    def damage():
        with open(part, "r+b") as handle:
            handle.truncate(40)

    def check(case_folder):
        with open(os.path.join(case_folder, "out", "predictions.csv"), encoding="utf-8") as f:
            text = f.read()
        return None if "edge-xgb" in text else "edge-xgb's predictions dropped"
    return {"setup": [_run(folder)], "after_setup": damage, "check": check,
            "argv": _run(folder, "--models", "edge-xgb,hog-xgb", "--set",
                         "hog-xgb.n_estimators=5")}


def _broken_pipe(folder, corpus):
    command = f"set -o pipefail; {sys.executable} -m benchmarks models | head -1"
    return {"argv": command, "shell": True}


CASES = [
    # ---- input side: hangs and unbounded memory
    Case("fifo in class folder", "input", _in_class(lambda d, c: os.mkfifo(f"{d}/x.png")),
         "skip", "FIFO"),
    Case("fifo in class folder, --strict", "input",
         _strict(_in_class(lambda d, c: os.mkfifo(f"{d}/x.png"))), "error", "FIFO"),
    Case("link to /dev/zero in class folder", "input",
         _in_class(lambda d, c: os.symlink("/dev/zero", f"{d}/zero.png")), "skip",
         "character device"),
    Case("20 GB sparse big.png", "input", _in_class(lambda d, c: _sparse(f"{d}/big.png")),
         "skip", "max_bytes"),
    Case("8000x8000 16-bit RGBA PNG", "input", _in_class(lambda d, c: _deep_png(f"{d}/deep.png")),
         "skip", "decoding needs 8000 x 8000 pixels x 4 channel(s) x 2 byte(s)"),
    Case("--image-size 30000", "input", lambda f, c: {"argv": _run(f, "--image-size", "30000",
                                                                     data="phantoms")},
         "error", "image_size"),
    Case("n_images=100000000", "input", lambda f, c: {"argv": _run(
        f, "--data-option", "n_images=100000000", data="phantoms")}, "error", "n_images"),
    Case(".npz declaring 977 GiB", "input",
         _npz(lambda p: _npz_header(p, (1_000_000, 1024, 1024))), "error", "GiB"),
    Case("4 MB zip bomb .npz", "input", _npz(_zip_bomb), "error", "zip bomb"),
    Case(".npz that is not a zip", "input", _npz(_not_zip), "error", "not a zip archive"),
    Case(".npz with an object array", "input", _npz(_objects), "error", "Python objects"),
    Case("predict: FIFO x.png", "input", _predict(_fifo_file), "skip", "FIFO"),
    Case("predict: link to /dev/zero", "input",
         _predict(lambda f, c: (os.symlink("/dev/zero", f"{f}/z.png"), f"{f}/z.png")[1]),
         "skip", "character device"),
    Case("predict: 20 GB sparse file", "input",
         _predict(lambda f, c: (_sparse(f"{f}/big.png"), f"{f}/big.png")[1]), "skip",
         "max_bytes"),
    Case("input.json load_size 100000", "input",
         _predict(_film, tamper=_set_input("load_size", 100000)), "error", "load_size"),
    # ---- input side: silent changes to the data
    Case("unreadable sub-folder, --strict", "input",
         _strict(_in_class(lambda d, c: _locked(f"{d}/locked"))), "error", "cannot read folder",
         drop_root_reads=True),
    Case("unreadable class folder", "input",
         lambda f, c: {**_in_class(lambda d, c2: None)(f, c),
                       "after_setup": lambda: _locked(f"{f}/data/zz-class")},
         "skip", "unreadable class folders", drop_root_reads=True),
    Case("symlinked sub-folder", "input", _in_class(_symlinked_folder), "ok"),
    Case("folder link loop", "input",
         _in_class(lambda d, c: os.symlink(d, f"{d}/loop")), "skip", "folder links not followed"),
    Case("non-UTF-8 file name", "input", _in_class(_non_utf8), "skip", "not UTF-8"),
    Case("DICOM RescaleSlope NaN", "input",
         _in_class(lambda d, c: _dicom(f"{d}/nan.dcm", "NaN")), "skip", "RescaleSlope"),
    Case("DICOM RescaleSlope inf, --strict", "input",
         _strict(_in_class(lambda d, c: _dicom(f"{d}/inf.dcm", "inf"))), "error", "RescaleSlope"),
    Case("CSV labels NaN, N/A, empty", "input",
         _csv_case(lambda i, c: [("intact/film_00.png", "NaN"), ("a.png", "N/A"), ("b.png", "")]),
         "skip", "missing label"),
    Case("CSV row ../../secret.png", "input",
         _csv_case(lambda i, c: [("../../../sentinel/secret.png", "fracture")]), "skip",
         "outside image_dir"),
    Case("CSV row absolute path", "input",
         _csv_case(lambda i, c: [(os.path.join(c, "sentinel", "secret.png"), "fracture")]),
         "skip", "outside image_dir"),
    Case("CSV outside row, allow_outside_images", "input",
         _csv_case(lambda i, c: [(os.path.join(c, "sentinel", "secret.png"), "fracture")],
                   "--data-option", "allow_outside_images=true"), "skip",
         "allow_outside_images=True"),
    Case("CSV row naming a FIFO", "input",
         _csv_case(lambda i, c: (os.mkfifo(f"{i}/x.png"), [("x.png", "fracture")])[1]), "skip",
         "unreadable images"),
    # ---- output side
    Case("--out holds the user's files", "output", _foreign_out(), "error", None),
    Case("--fresh on the user's folder", "output", _foreign_out("--fresh"), "error", None),
    Case("--out inside --data, --fresh", "output", _out_inside_data, "error",
         "inside the data folder"),
    Case("links planted in out/plots", "output", _planted_links, "any"),
    Case("predict --output over a user file", "output", _predict_overwrite, "error", None),
    Case("predict --explain over a user file", "output", _explain_overwrite, "error",
         "refusing to overwrite"),
    Case("report over the user's report.html", "output", _report_over_a_user_file, "error",
         "refusing to overwrite"),
    Case("inspect --out inside the data", "output", _inspect_inside_data, "error",
         "inside the data folder"),
    Case("damaged part on resume", "output", _damaged_part, "skip", "is damaged"),
    Case('config "fresh": "no"', "output", _config({"fresh": "no"}), "error", "fresh"),
    Case('config "model_params": 3', "output", _config({"model_params": 3}), "error",
         "model_params"),
    Case("--set max_depth=abc", "output", _setting("edge-xgb.max_depth=abc"), "error",
         "max_depth"),
    Case("--set n_estimators=-1", "output", _setting("edge-xgb.n_estimators=-1"), "error",
         "n_estimators"),
    Case("--set learning_rate=NaN", "output", _setting("edge-xgb.learning_rate=NaN"), "error",
         "learning_rate"),
    Case("corrupt input.json", "output", _predict(_film, tamper=_write_text("input.json", "{")),
         "error", "input.json"),
    Case("file names =1+1.png, @1+1.png", "output", _formula_names, "ok"),
    Case("models | head -1", "output", _broken_pipe, "ok"),
]
