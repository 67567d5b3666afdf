"""Exact and near-duplicate images, and where they sit across the splits.

Exact duplicates share the digest of their decoded pixels
(:func:`benchmarks.evaluation.splits.image_digest`); near-duplicates have 64-bit
perceptual hashes (:func:`benchmarks.inspection.describe.perceptual_hash`)
at most ``max_distance`` bits apart. Each pair is put in a category: within
one split (``"train"``) or across two (``"train/test"``), the second being
leakage.
"""

import numpy as np

__all__ = ["exact_duplicate_pairs", "near_duplicate_pairs", "duplicate_report", "popcount"]

_SPLIT_ORDER = ("train", "val", "test")


def popcount(words):
    """Set bits of each unsigned 64-bit word (``np.bitwise_count`` on NumPy 2).

    Examples
    --------
    >>> popcount(np.array([0, 1, 2**64 - 1], dtype=np.uint64)).tolist()
    [0, 1, 64]
    """
    words = np.asarray(words, dtype=np.uint64)
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(words)
    # NumPy 1.x: count the bits of the eight bytes of each word.
    as_bytes = np.unpackbits(words[..., None].view(np.uint8), axis=-1)
    return as_bytes.sum(axis=-1, dtype=np.uint8)


def exact_duplicate_pairs(digests):
    """Index pairs ``(i, j)``, ``i < j``, of equal digests, sorted.

    Examples
    --------
    >>> exact_duplicate_pairs([b"a", b"b", b"a", b"a"])
    [(0, 2), (0, 3), (2, 3)]
    """
    groups = {}
    for index, digest in enumerate(digests):
        groups.setdefault(digest, []).append(index)
    pairs = []
    for members in groups.values():
        pairs.extend((a, b) for k, a in enumerate(members) for b in members[k + 1:])
    return sorted(pairs)


def near_duplicate_pairs(hashes, max_distance, *, max_pairs=100_000, max_cells=4_000_000):
    """Pairs of hashes at most ``max_distance`` bits apart.

    Every pair is compared (exact, no index that could miss a pair), one
    block of rows at a time so that at most ``max_cells`` words are held:
    memory stays flat, and the time grows with the square of the count.

    Parameters
    ----------
    hashes : (N,) or (N, W) array_like of uint64
        One hash of ``64 * W`` bits per image.
    max_distance : int
        Largest Hamming distance that counts as a near-duplicate.
    max_pairs : int, optional
        Stop collecting after this many pairs (the count goes on).

    Returns
    -------
    pairs : list of (int, int, int)
        ``(i, j, distance)`` with ``i < j``, in row order, at most ``max_pairs``.
    n_pairs : int
        Number of pairs found, listed or not.
    closest : int or None
        The smallest non-zero distance between two hashes (how near the
        nearest pair of different images came), ``None`` for fewer than two.

    Examples
    --------
    >>> near_duplicate_pairs([0b1111, 0b0111, 0xFF00], 1)
    ([(0, 1, 1)], 1, 1)
    """
    hashes = np.asarray(hashes, dtype=np.uint64)
    if hashes.ndim == 1:
        hashes = hashes[:, None]
    n, words = hashes.shape if hashes.size else (len(hashes), 1)
    rows = max(1, max_cells // max(n * words, 1))
    pairs, n_pairs, closest = [], 0, None
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        distance = np.zeros((stop - start, n - start), dtype=np.int32)
        for word in range(words):
            distance += popcount(hashes[start:stop, None, word] ^ hashes[None, start:, word])
        # Only j > i: column c of this block is image start + c.
        local = np.arange(stop - start)[:, None]
        close = (distance <= max_distance) & (np.arange(n - start)[None, :] > local)
        upper = np.arange(n - start)[None, :] > local
        nonzero = distance[upper & (distance > 0)]
        if nonzero.size:
            low = int(nonzero.min())
            closest = low if closest is None else min(closest, low)
        i, j = np.nonzero(close)
        n_pairs += len(i)
        room = max_pairs - len(pairs)
        if room > 0:
            pairs.extend((int(a + start), int(b + start), int(distance[a, b]))
                         for a, b in zip(i[:room], j[:room]))
    return pairs, n_pairs, closest


def _category(split, i, j):
    if split is None:
        return "all"
    a, b = sorted((str(split[i]), str(split[j])),
                  key=lambda s: _SPLIT_ORDER.index(s) if s in _SPLIT_ORDER else 9)
    return a if a == b else f"{a}/{b}"


def _describe_pairs(pairs, ids, split, label_text, max_listed):
    by_category, listed, n_conflicting = {}, [], 0
    for pair in pairs:
        i, j = pair[0], pair[1]
        category = _category(split, i, j)
        by_category[category] = by_category.get(category, 0) + 1
        differ = label_text[i] != label_text[j]
        n_conflicting += differ
        if len(listed) < max_listed:
            record = {"a": str(ids[i]), "b": str(ids[j]), "splits": category,
                      "label_a": label_text[i], "label_b": label_text[j]}
            if len(pair) > 2:
                record["distance"] = pair[2]
            listed.append(record)
    across = sum(count for category, count in by_category.items() if "/" in category)
    return {"n_pairs": len(pairs), "by_splits": by_category, "n_across_splits": across,
            "n_labels_differ": int(n_conflicting), "pairs": listed}


def duplicate_report(ids, digests, hashes, split, label_text, *, max_distance=24,
                     max_listed=200):
    """Exact and near-duplicate pairs, counted by split category.

    Parameters
    ----------
    ids : sequence of str
        Image ids.
    digests : sequence of bytes
        Pixel digests (equal for byte-identical images).
    hashes : (N,) or (N, W) array_like of uint64
        Perceptual hashes of ``64 * W`` bits.
    split : sequence of str or None
        Split of each image, or ``None`` when the dataset has none.
    label_text : sequence of str
        Each image's label(s) as text, to flag duplicates whose labels differ.
    max_distance : int, optional
        Largest Hamming distance between perceptual hashes that counts as a
        near-duplicate. Pairs that are exact duplicates are
        reported as exact only.
    max_listed : int, optional
        Pairs listed per kind (all are counted).

    Returns
    -------
    dict
        ``{"exact": {...}, "near": {...}, "max_distance": int}``; each kind
        has ``n_pairs``, ``by_splits`` (e.g. ``{"train": 3, "train/test": 1}``),
        ``n_across_splits``, ``n_labels_differ`` and the first ``pairs``.

    Examples
    --------
    >>> report = duplicate_report(["a", "b", "c"], [b"x", b"y", b"x"], [0, 1, 0],
    ...                           ["train", "train", "test"], ["0", "1", "0"], max_distance=1)
    >>> report["exact"]["by_splits"], report["near"]["by_splits"]
    ({'train/test': 1}, {'train': 1, 'train/test': 1})
    """
    hashes = np.asarray(hashes, dtype=np.uint64)
    hashes = hashes.reshape(len(digests), -1) if hashes.size else np.zeros((0, 1), np.uint64)
    exact = exact_duplicate_pairs(digests)
    identical = set(exact)
    near, n_near, closest = near_duplicate_pairs(hashes, max_distance)
    near = [pair for pair in near if (pair[0], pair[1]) not in identical]
    n_near -= sum(1 for i, j in exact if _hamming(hashes[i], hashes[j]) <= max_distance)
    report = {"max_distance": int(max_distance), "closest_distance": closest,
              "exact": _describe_pairs(exact, ids, split, label_text, max_listed),
              "near": _describe_pairs(near, ids, split, label_text, max_listed)}
    if n_near > report["near"]["n_pairs"]:   # more pairs than near_duplicate_pairs keeps
        report["near"]["n_pairs_beyond_limit"] = n_near - report["near"]["n_pairs"]
    return report


def _hamming(a, b):
    return int(popcount(a ^ b).sum())
