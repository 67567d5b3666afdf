import numpy as np
import pytest

from xray_features._base import ImageFeatures
from xray_features.batch import ExtractionReport, extract_features
from xray_features.combine import CombinedFeatures
from xray_features.hog import HOGFeatures
from xray_features.io import ImageLoadError, save_image
from xray_features.texture import TextureFeatures


class CountingFeatures(ImageFeatures):
    """Mean and max of the image; appends one line to ``log`` per extraction,
    so calls are counted across processes."""

    def __init__(self, *, log=None, offset=0.0):
        self.log = log
        self.offset = offset

    def _feature_names(self):
        return ["mean", "max"]

    def _extract(self, image):
        if self.log is not None:
            with open(self.log, "a") as handle:
                handle.write("x\n")
        return np.array([image.mean() + self.offset, image.max()])


def _calls(log):
    return len(log.read_text().splitlines()) if log.exists() else 0


def _images(n=9, size=32, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, size, size), dtype=np.uint8)
    images[0] = 0            # constant images must give finite features
    images[1] = 255
    return images


def _extractor():
    return CombinedFeatures([("hog", HOGFeatures(image_size=32)),
                             ("texture", TextureFeatures(image_size=32))])


def _write_pngs(folder, images):
    paths = []
    for index, image in enumerate(images):
        path = folder / f"image_{index:02d}.png"
        save_image(path, image)
        paths.append(path)
    return paths


def test_arrays_give_transform_rows_and_a_report():
    images = _images()
    extractor = _extractor()
    X, report = extract_features(images, extractor, progress=False)
    np.testing.assert_array_equal(X, extractor.transform(images))
    assert X.dtype == np.float32 and np.isfinite(X).all()
    assert isinstance(report, ExtractionReport)
    assert (report.n_images, report.n_ok, report.n_cached, report.skipped) == (9, 9, 0, ())
    np.testing.assert_array_equal(report.kept, np.arange(9))
    assert report.images_per_second > 0 and "n_ok=9" in repr(report)


def test_chunks_sequences_and_generators_give_the_same_result():
    images = _images(n=10)
    extractor = _extractor()
    X, _ = extract_features(images, extractor, progress=False)
    X_small, _ = extract_features(images, extractor, chunk_size=3, progress=False)
    X_list, _ = extract_features(list(images), extractor, chunk_size=4, progress=False)
    X_gen, report = extract_features((image for image in images), extractor, chunk_size=4,
                                     progress=False)
    for other in (X_small, X_list, X_gen):
        np.testing.assert_array_equal(other, X)
    assert report.n_images == 10


def test_parallel_paths_with_cache_equal_serial_arrays(tmp_path):
    images = _images(n=8)
    paths = _write_pngs(tmp_path, images)
    log = tmp_path / "calls.log"
    extractor = CombinedFeatures([("count", CountingFeatures(log=log)),
                                  ("texture", TextureFeatures(image_size=32))])
    X_serial, _ = extract_features(images, extractor, progress=False)
    assert _calls(log) == 8
    cache = tmp_path / "cache"
    X_parallel, report = extract_features(paths, extractor, n_jobs=2, chunk_size=2,
                                          cache_dir=cache, progress=False)
    np.testing.assert_array_equal(X_parallel, X_serial)   # PNG round trip is lossless
    assert _calls(log) == 16 and report.n_cached == 0
    X_again, report = extract_features(paths, extractor, cache_dir=cache, progress=False)
    np.testing.assert_array_equal(X_again, X_serial)
    assert report.n_cached == 8 and _calls(log) == 16   # nothing recomputed


def test_cache_hit_on_rerun_and_miss_after_parameter_change(tmp_path):
    images = _images(n=5)
    log = tmp_path / "calls.log"
    X, report = extract_features(images, CountingFeatures(log=log), cache_dir=tmp_path / "c",
                                 progress=False)
    assert report.n_cached == 0 and _calls(log) == 5
    X_again, report = extract_features(images, CountingFeatures(log=log),
                                       cache_dir=tmp_path / "c", progress=False)
    assert report.n_cached == 5 and _calls(log) == 5
    np.testing.assert_array_equal(X_again, X)
    X_changed, report = extract_features(images, CountingFeatures(log=log, offset=1.0),
                                         cache_dir=tmp_path / "c", progress=False)
    assert report.n_cached == 0 and _calls(log) == 10
    np.testing.assert_allclose(X_changed[:, 0], X[:, 0] + 1)
    # a changed image is a miss; the others still hit
    images[2, 0, 0] ^= 1
    _, report = extract_features(images, CountingFeatures(log=log), cache_dir=tmp_path / "c",
                                 progress=False)
    assert report.n_cached == 4 and _calls(log) == 11


def test_damaged_cache_file_is_recomputed(tmp_path):
    images = _images(n=3)
    extractor = CountingFeatures()
    X, _ = extract_features(images, extractor, cache_dir=tmp_path, progress=False)
    vectors = sorted(tmp_path.rglob("*.npy"))
    assert len(vectors) == 3
    vectors[0].write_bytes(b"not a numpy file")
    X_again, report = extract_features(images, extractor, cache_dir=tmp_path, progress=False)
    np.testing.assert_array_equal(X_again, X)
    assert report.n_cached == 2


def test_unreadable_files_are_skipped_and_reported(tmp_path):
    images = _images(n=4)
    paths = _write_pngs(tmp_path, images)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    missing = tmp_path / "missing.png"
    paths = [paths[0], broken, paths[1], missing, paths[2], paths[3]]
    with pytest.warns(UserWarning, match=r"skipped 2 of 6 image\(s\)"):
        X, report = extract_features(paths, _extractor(), progress=False)
    expected, _ = extract_features(images, _extractor(), progress=False)
    np.testing.assert_array_equal(X, expected)
    np.testing.assert_array_equal(report.kept, [0, 2, 4, 5])
    assert (report.n_images, report.n_ok) == (6, 4)
    skipped = dict(report.skipped)
    assert set(skipped) == {str(broken), str(missing)}
    assert "file not found" in skipped[str(missing)]


def test_strict_mode_raises_naming_the_file(tmp_path):
    paths = _write_pngs(tmp_path, _images(n=2))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"garbage")
    with pytest.raises(ImageLoadError, match="broken.png"):
        extract_features(paths + [broken], _extractor(), strict=True, progress=False)


def test_invalid_arrays_are_reported_with_ids_or_raise_in_strict_mode():
    images = [np.zeros((16, 16), np.uint8), np.full((16, 16), 3.0), np.zeros((16, 16, 3))]
    extractor = TextureFeatures(image_size=16, parts=("stats",))
    with pytest.warns(UserWarning, match=r"skipped 2 of 3 image\(s\), e.g. 'b'"):
        X, report = extract_features(images, extractor, ids=["a", "b", "c"], progress=False)
    assert X.shape == (1, 14) and report.kept.tolist() == [0]
    reasons = dict(report.skipped)
    assert "must lie in [0, 1]" in reasons["b"]       # float image on the wrong scale
    assert "2-D grayscale" in reasons["c"]            # a colour-shaped array
    with pytest.raises(ValueError, match="image 'c' is not valid"):
        extract_features([images[0], images[2]], extractor, ids=["a", "c"], strict=True,
                         progress=False)


def test_int_none_and_3d_items_are_named_and_warned_about():
    image = np.zeros((16, 16), np.uint8)
    extractor = TextureFeatures(image_size=16, parts=("stats",))
    items = [image, 7, None, np.zeros((2, 16, 16), np.uint8), image]
    with pytest.warns(UserWarning, match=r"skipped 3 of 5 image\(s\).*'1': .*item is int"):
        X, report = extract_features(items, extractor, progress=False)
    assert X.shape == (2, 14) and report.kept.tolist() == [0, 4]
    reasons = dict(report.skipped)
    assert "item is NoneType None, not a 2-D image array" in reasons["2"]
    assert "shape (2, 16, 16)" in reasons["3"]
    with pytest.raises(ValueError, match=r"image '1' is not valid: .*item is int 7"):
        extract_features(items, extractor, strict=True, progress=False)


def test_cache_never_opens_a_fifo(tmp_path):
    import os
    import signal

    fifo = tmp_path / "x.png"
    os.mkfifo(fifo)
    good = _write_pngs(tmp_path, _images(n=2))[:1]
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError("blocked")))
    signal.alarm(10)
    try:
        with pytest.warns(UserWarning, match="skipped 1 of 2"):
            X, report = extract_features(good + [fifo], _extractor(), cache_dir=tmp_path / "c",
                                         progress=False)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
    assert "FIFO" in dict(report.skipped)[str(fifo)]


def test_everything_skipped_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no features extracted: all 1 images"):
        extract_features([tmp_path / "missing.png"], CountingFeatures(), progress=False)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"n_jobs": 0}, ValueError, "n_jobs must be a non-zero integer"),
    ({"chunk_size": 0}, ValueError, "chunk_size must be an integer >= 1"),
    ({"image_loader": "cv2"}, TypeError, "image_loader must be a function"),
    ({"ids": ["only-one"]}, ValueError, "ids must give one name per image"),
])
def test_rejects_bad_options(kwargs, error, match):
    with pytest.raises(error, match=match):
        extract_features(_images(n=2), CountingFeatures(), progress=False, **kwargs)


def test_rejects_bad_inputs():
    with pytest.raises(TypeError, match="single path"):
        extract_features("scan.png", CountingFeatures(), progress=False)
    with pytest.raises(ValueError, match="is empty"):
        extract_features([], CountingFeatures(), progress=False)
    with pytest.raises(ValueError, match=r"\(N, H, W\) stack"):
        extract_features(np.zeros((8, 8)), CountingFeatures(), progress=False)
    with pytest.raises(TypeError, match="extractor must be an xray_features extractor"):
        extract_features(_images(n=2), object(), progress=False)


def test_custom_loader(tmp_path):
    images = _images(n=3)
    files = []
    for index, image in enumerate(images):
        files.append(tmp_path / f"{index}.npy")
        np.save(files[-1], image)
    X, report = extract_features(files, CountingFeatures(), image_loader=np.load,
                                 progress=False)
    np.testing.assert_array_equal(X, CountingFeatures().transform(images))
    assert report.skipped == ()


def test_cache_key_covers_the_private_maths_modules():
    # The LBP and GLCM maths live in private modules of the package: editing
    # them must start a fresh cache folder too.
    from xray_features.batch import _extractor_key

    key, record = _extractor_key(TextureFeatures())
    hashed = {name.split(":")[1] for name in record["sources"]}
    assert {"texture.py", "_lbp.py", "_glcm.py", "_intensity.py", "_base.py",
            "preprocess.py"} <= hashed
    assert _extractor_key(TextureFeatures())[0] == key
    assert _extractor_key(TextureFeatures(method="exact"))[0] != key
