"""Handcrafted feature extraction, image I/O and preprocessing for X-ray images.

Public names are loaded on first use, so ``import xray_features`` is fast and
pulls in no heavy library until a function that needs it is called.

Image convention
----------------
An *image* is one 2-D array; *images* is a sequence of them or an
``(N, H, W)`` stack. ``uint8`` images use the 0-255 scale on which the
default bright-pixel threshold of 150 is defined; ``uint16`` images use
0-65535 and float images are expected in [0, 1]. Thresholds given on the
0-255 scale are rescaled to the image's own scale.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach(
    __name__,
    submodules=["io", "preprocess", "enhance", "synthetic", "edges", "hog", "texture",
                "combine", "batch", "stream", "image_source"],
    submod_attrs={
        "io": ["ImageLoadError", "load_image", "load_image_bytes", "load_image_bytes_reduced",
               "ReducedImage", "save_image"],
        "preprocess": [
            "to_float32", "to_uint8", "resize", "resize_with_padding",
            "rescale_to_unit", "rescale_to_symmetric", "split_into_tiles",
        ],
        "enhance": ["clahe", "equalize_histogram", "denoise_gaussian", "denoise_median"],
        "synthetic": ["make_long_bone", "make_joint", "make_phantom", "make_phantom_dataset",
                      "write_phantom_folder"],
        "edges": ["bright_edge_map", "bright_edge_features", "BrightEdgeFeatures"],
        "hog": ["hog_features", "HOGFeatures"],
        "texture": ["lbp_histogram", "glcm_features", "intensity_statistics",
                    "TextureFeatures"],
        "combine": ["CombinedFeatures", "make_features", "FEATURE_PRESETS"],
        "batch": ["extract_features", "ExtractionReport"],
        "stream": ["map_images"],
        "image_source": ["ImageSource"],
    },
)
