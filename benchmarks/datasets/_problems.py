"""Collecting the bad items of one dataset load and reporting them once."""

import warnings

from benchmarks.datasets._record import DatasetError, DatasetWarning

__all__ = ["Problems"]


class Problems:
    """Collects skipped items of one load and reports them once.

    Each problem is ``(id, reason, kind, fatal)``; ``kind`` is a short phrase
    such as ``"missing files"`` used to count problems of the same sort.
    """

    def __init__(self, source):
        self.source = source
        self.items = []

    def add(self, item_id, reason, kind, fatal=True):
        """Record a problem; ``fatal=False`` for a deliberate exclusion strict mode accepts."""
        self.items.append((str(item_id), str(reason), kind, fatal))

    def skipped(self):
        return [(item_id, reason) for item_id, reason, _, _ in self.items]

    def summary(self, n_examples=3):
        by_kind, first_reason = {}, {}
        for item_id, reason, kind, _ in self.items:
            by_kind.setdefault(kind, []).append(item_id)
            first_reason.setdefault(kind, reason)
        parts = []
        for kind, ids in by_kind.items():
            shown = ", ".join(repr(i) for i in ids[:n_examples])
            more = f", ... ({len(ids) - n_examples} more)" if len(ids) > n_examples else ""
            reason = first_reason[kind]   # the reason, not only the kind, reaches the user
            reason = reason if len(reason) <= 120 else reason[:117] + "..."
            parts.append(f"{kind}: {len(ids)} ({shown}{more}) [{reason}]")
        return "; ".join(parts)

    def resolve(self, strict):
        """Raise on the first problem when strict, else warn once with counts."""
        if not self.items:
            return
        fatal = [item for item in self.items if item[3]]
        if strict and fatal:
            item_id, reason, _, _ = fatal[0]
            raise DatasetError(
                f"{self.source}: {item_id!r}: {reason}. In all: {self.summary()}. "
                "Fix the source, or pass strict=False to skip these items and "
                "list them in Dataset.skipped.")
        hint = "; pass strict=True to refuse bad items instead" if fatal and not strict else ""
        warnings.warn(
            f"{self.source}: skipped {len(self.items)} item(s): {self.summary()}. "
            f"They are listed in Dataset.skipped{hint}.", DatasetWarning, stacklevel=4)
