"""Read a PyTorch ``state_dict`` file into NumPy arrays, without PyTorch.

Pretrained weights are often published as PyTorch checkpoints, and most
users of a Keras model do not have (or want: a CUDA build is several GB)
PyTorch installed. :func:`read_state_dict` reads both layouts that
``torch.save`` writes:

* the zip archive of PyTorch >= 1.6 (``archive/data.pkl`` plus one raw
  ``archive/data/<key>`` file per storage), and
* the legacy stream of older releases (five pickles one after the other:
  magic number, protocol version, system information, the object, the list
  of storage keys, then each storage's element count and bytes).

Either way the object is a pickle, and ``pickle.load`` runs whatever
callable a file names. Here an :class:`pickle.Unpickler` subclass resolves
only the handful of globals a state dict needs (``collections.OrderedDict``,
``torch._utils._rebuild_tensor_v2`` / ``_rebuild_parameter`` and the typed
storage classes) to local stand-ins, and refuses every other name, so no
code from the file can run. Written by hand because no well-kept library
reads these files without importing PyTorch itself.
"""

import collections
import io
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["StateDictError", "read_state_dict"]

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001

#: Storage class name -> NumPy dtype of its elements (little-endian on disk).
_STORAGE_DTYPES = {
    "FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2",
    "LongStorage": "<i8", "IntStorage": "<i4", "ShortStorage": "<i2",
    "CharStorage": "i1", "ByteStorage": "u1", "BoolStorage": "?",
    "BFloat16Storage": "<u2",  # kept as raw bits; converted below
}


class StateDictError(ValueError):
    """A file that is not a PyTorch state dict this reader can read safely."""

    def __init__(self, path, reason):
        super().__init__(f"cannot read PyTorch weights '{path}': {reason}")
        self.path, self.reason = str(path), reason


class _Storage:
    """A storage named by a persistent id; its bytes arrive later."""

    def __init__(self, key, type_name, numel):
        self.key, self.numel = key, numel
        self.dtype = np.dtype(_STORAGE_DTYPES[type_name])
        self.bfloat16 = type_name == "BFloat16Storage"
        self.data = None


class _Tensor:
    """A tensor view of a storage, materialised once the storage is read."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset = storage, int(offset)
        self.size, self.stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)

    def to_numpy(self):
        data = self.storage.data
        if data is None:
            raise ValueError(f"storage {self.storage.key!r} has no data")
        itemsize = data.dtype.itemsize
        needed = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride)) + 1
        if any(n == 0 for n in self.size):
            needed = 0
        if self.offset < 0 or any(s < 0 for s in self.stride) or needed > data.size:
            raise ValueError(f"a tensor of shape {self.size} reaches past its storage "
                             f"({data.size} elements)")
        view = np.lib.stride_tricks.as_strided(
            data[self.offset:], shape=self.size,
            strides=tuple(s * itemsize for s in self.stride), writeable=False)
        array = np.array(view, order="C")  # a C-contiguous copy, free of the file buffer
        if self.storage.bfloat16:  # the upper half of a float32
            array = (array.astype(np.uint32) << 16).view(np.float32)
        return array


def _rebuild_tensor(storage, offset, size, stride, *_):
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError("a tensor without a storage")
    return _Tensor(storage, offset, size, stride)


def _rebuild_parameter(data, *_):
    return data


class _StorageType:
    def __init__(self, name):
        self.name = name


class _SafeUnpickler(pickle.Unpickler):
    """Resolves only what a state dict needs; every other global is refused."""

    def __init__(self, handle):
        super().__init__(handle)
        self.storages = {}

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"the file names {module}.{name}, which a state dict "
                                     "does not need; refusing to load it")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r:.80}")
        _, storage_type, key, _location, numel = pid[:5]
        key = str(key)
        if key not in self.storages:
            self.storages[key] = _Storage(key, storage_type.name, int(numel))
        return self.storages[key]


def _flatten(obj, path):
    """The ``{name: _Tensor}`` entries of a (possibly nested) state dict."""
    if isinstance(obj, dict):
        if "state_dict" in obj and isinstance(obj["state_dict"], dict) and path == "":
            return _flatten(obj["state_dict"], path)  # a training checkpoint
        out = {}
        for key, value in obj.items():
            name = f"{path}.{key}" if path else str(key)
            if isinstance(value, _Tensor):
                out[name] = value
            elif isinstance(value, dict):
                out.update(_flatten(value, name))
        return out
    raise ValueError(f"the file holds a {type(obj).__name__}, not a state dict")


def _read_zip(path, archive):
    names = archive.namelist()
    pickles = [name for name in names if name.endswith("/data.pkl") or name == "data.pkl"]
    if len(pickles) != 1:
        raise ValueError("the zip archive has no single data.pkl")
    prefix = pickles[0][:-len("data.pkl")]
    unpickler = _SafeUnpickler(io.BytesIO(archive.read(pickles[0])))
    obj = unpickler.load()
    for key, storage in unpickler.storages.items():
        member = f"{prefix}data/{key}"
        if member not in names:
            raise ValueError(f"storage {key!r} is missing from the archive")
        raw = archive.read(member)
        storage.data = np.frombuffer(raw, dtype=storage.dtype,
                                     count=len(raw) // storage.dtype.itemsize)
    return obj


def _read_legacy(handle):
    magic = _SafeUnpickler(handle).load()
    if magic != _LEGACY_MAGIC:
        raise ValueError("not a PyTorch file (wrong magic number)")
    protocol = _SafeUnpickler(handle).load()
    if protocol != _LEGACY_PROTOCOL:
        raise ValueError(f"unsupported legacy protocol version {protocol!r}")
    _SafeUnpickler(handle).load()  # system information: byte order, type sizes
    unpickler = _SafeUnpickler(handle)
    obj = unpickler.load()
    keys = _SafeUnpickler(handle).load()
    if not isinstance(keys, list):
        raise ValueError("the storage key list is damaged")
    for key in keys:
        storage = unpickler.storages.get(str(key))
        if storage is None:
            raise ValueError(f"storage {key!r} is not used by the object")
        header = handle.read(8)
        if len(header) != 8:
            raise ValueError("the file ends inside a storage header")
        (numel,) = struct.unpack("<q", header)
        size = numel * storage.dtype.itemsize
        if numel < 0 or numel != storage.numel:
            raise ValueError(f"storage {key!r} declares {numel} elements, "
                             f"{storage.numel} expected")
        raw = handle.read(size)
        if len(raw) != size:
            raise ValueError("the file ends inside a storage")
        storage.data = np.frombuffer(raw, dtype=storage.dtype)
    return obj


def read_state_dict(path):
    """Read the tensors of a PyTorch ``state_dict`` file as NumPy arrays.

    Parameters
    ----------
    path : str or path-like
        A file written by ``torch.save(model.state_dict(), path)`` (the zip
        layout or the legacy one), or a checkpoint dict with a
        ``"state_dict"`` entry.

    Returns
    -------
    tensors : dict of str to ndarray
        In the file's order; nested dicts give dotted names. Every array
        is a fresh C-contiguous copy of the tensor's values.

    Raises
    ------
    StateDictError
        For a file that is not a state dict, is damaged, or names anything
        beyond tensors and ordered dicts (such a file is never executed).

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "empty.pth"
    >>> _ = path.write_bytes(b"not a checkpoint")
    >>> read_state_dict(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    classifiers.torch_state_dict.StateDictError: cannot read PyTorch weights ...
    """
    path = Path(path)
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                obj = _read_zip(path, archive)
        else:
            with open(path, "rb") as handle:
                obj = _read_legacy(handle)
        tensors = _flatten(obj, "")
        return {name: tensor.to_numpy() for name, tensor in tensors.items()}
    except OSError as error:
        raise StateDictError(path, error.strerror or str(error)) from None
    except (pickle.UnpicklingError, ValueError, EOFError, TypeError, KeyError,
            AttributeError, IndexError, struct.error, zipfile.BadZipFile) as error:
        raise StateDictError(path, str(error) or type(error).__name__) from None
