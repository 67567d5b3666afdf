"""CSV cells that a spreadsheet will not run as formulas.

Every CSV the toolkit writes (``predictions.csv``, ``splits.csv``,
``results.csv``, ``parts/*.csv``, ``xray-bench predict --output``) goes
through :func:`frame_to_csv`. A text cell that begins with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return would be read by Excel, LibreOffice
or Google Sheets as a formula (CSV injection); following OWASP, such a cell
is written with a leading single quote (``'=cmd``).

So that reading back gives the original text exactly, a cell that begins
with a single quote is quoted too (``'note`` is written ``''note``), and
:func:`unescape_cell` removes exactly one leading quote from any cell that
has one. Numbers are never touched (a negative number stays ``-0.5``).
"""

import csv

__all__ = ["escape_cell", "unescape_cell", "frame_to_csv", "unescape_frame"]

#: First characters that make a spreadsheet treat a cell as a formula, and
#: the quote itself (so escaping can be undone).
_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "'")


def escape_cell(value):
    """Prefix a text cell that a spreadsheet would run as a formula with ``'``.

    Examples
    --------
    >>> escape_cell("=HYPERLINK(1)"), escape_cell("-1.png"), escape_cell("a.png")
    ("'=HYPERLINK(1)", "'-1.png", 'a.png')
    >>> escape_cell(-1.5), escape_cell("'quoted")
    (-1.5, "''quoted")
    """
    if isinstance(value, str) and value.startswith(_TRIGGERS):
        return "'" + value
    return value


def unescape_cell(value):
    """Undo :func:`escape_cell`.

    Examples
    --------
    >>> unescape_cell("'=HYPERLINK(1)"), unescape_cell("''quoted"), unescape_cell("a")
    ('=HYPERLINK(1)', "'quoted", 'a')
    """
    if isinstance(value, str) and value.startswith("'"):
        return value[1:]
    return value


def _text_columns(frame):
    return [column for column in frame.columns
            if frame[column].dtype == object or str(frame[column].dtype) in ("string", "str")]


def frame_to_csv(frame):
    """``frame.to_csv(index=False)`` with every text cell escaped.

    Examples
    --------
    >>> import pandas as pd
    >>> print(frame_to_csv(pd.DataFrame({"id": ["=1+1", "b"], "p": [-0.5, 1.0]})), end="")
    id,p
    '=1+1,-0.5
    b,1.0
    """
    frame = frame.copy()
    carriage_return = False
    for column in _text_columns(frame):
        frame[column] = frame[column].map(escape_cell)
        carriage_return |= frame[column].map(lambda v: isinstance(v, str) and "\r" in v).any()
    # pandas quotes a cell holding "\n" but not one holding a lone "\r",
    # which readers take for a line end; such a file quotes every text cell.
    return frame.to_csv(index=False,
                        quoting=csv.QUOTE_NONNUMERIC if carriage_return else csv.QUOTE_MINIMAL)


def unescape_frame(frame):
    """Undo :func:`frame_to_csv` on a frame read with ``pandas.read_csv``."""
    for column in _text_columns(frame):
        frame[column] = frame[column].map(unescape_cell)
    return frame
