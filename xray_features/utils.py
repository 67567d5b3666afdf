"""The toolkit's shared helpers, one public module for all three packages.

``classifiers`` and ``benchmarks`` write files, open untrusted inputs and
check their arguments the same way ``xray_features`` does; they import the
helpers from here, never from the private modules that implement them:

- atomic writes and output-folder safety (:mod:`xray_features._atomic`):
  :func:`write_text_atomic`, :func:`write_bytes_atomic`,
  :func:`make_folders`, :func:`check_no_links`, :class:`UnsafePathError`,
  :data:`TEMPORARY_SUFFIX`;
- limits on untrusted files (:mod:`xray_features._safety`):
  :func:`check_regular_file`, :func:`read_bounded`, :func:`check_npz`,
  :func:`check_decoded_bytes`, :func:`array_limit`, :func:`printable_name`,
  :func:`format_bytes`, :class:`UnsafeFileError` and the ``MAX_*`` /
  ``DEFAULT_MAX_*`` limits;
- argument checks with one message format (:mod:`xray_features._validation`):
  :func:`check_scalar`, :func:`check_positive_int`, :func:`check_n_jobs`,
  :func:`check_pair`, :func:`check_image`, :func:`check_images`,
  :func:`check_image_size`;
- the base class of feature extractors (:mod:`xray_features._base`), for
  extractors defined in the other packages (the frozen-network embeddings
  of :mod:`classifiers.embeddings`): :class:`ImageFeatures` and
  :func:`working_image`.

This module is internal to the toolkit: its names may change between
versions without a deprecation period, unlike those of
``xray_features.__all__``.

Examples
--------
>>> from xray_features.utils import check_scalar
>>> check_scalar(3, "n_folds", low=2)
3
"""

from xray_features._atomic import (TEMPORARY_SUFFIX, UnsafePathError, check_no_links,
                                   make_folders, write_bytes_atomic, write_text_atomic)
from xray_features._safety import (DEFAULT_MAX_ARRAY_BYTES, DEFAULT_MAX_DECODED_BYTES,
                                   DEFAULT_MAX_FILE_BYTES, MAX_COMPRESSION_RATIO,
                                   MAX_IMAGE_SIZE, UnsafeFileError, array_limit,
                                   check_decoded_bytes, check_npz, check_regular_file,
                                   format_bytes, printable_name, read_bounded)
from xray_features._base import ImageFeatures, working_image
from xray_features._validation import (check_image, check_image_size, check_images,
                                       check_n_jobs, check_pair, check_positive_int,
                                       check_scalar)

__all__ = ["TEMPORARY_SUFFIX", "UnsafePathError", "check_no_links", "make_folders",
           "write_bytes_atomic", "write_text_atomic",
           "DEFAULT_MAX_ARRAY_BYTES", "DEFAULT_MAX_DECODED_BYTES", "DEFAULT_MAX_FILE_BYTES",
           "MAX_COMPRESSION_RATIO", "MAX_IMAGE_SIZE", "UnsafeFileError", "array_limit",
           "check_decoded_bytes", "check_npz", "check_regular_file", "format_bytes",
           "printable_name", "read_bounded",
           "check_image", "check_image_size", "check_images", "check_n_jobs", "check_pair",
           "check_positive_int", "check_scalar", "ImageFeatures", "working_image"]
