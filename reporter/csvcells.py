"""Text cells that a spreadsheet or a CRM would run as a formula, neutralised before a CSV is written.

The OWASP rule: a text value that starts with = + - @, a tab or a carriage return gets a single
quote in front ('=1+1), whatever its source (persona names, categories, IDs written as text, an
archived file read back). Only text columns are looked at, so a number such as -5 in a numeric
column is written as it is. The check reads the first byte of each value straight from Arrow's
buffers: a million names cost a few milliseconds, and a column with nothing to change is kept.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

FORMULA_STARTS = "=+-@\t\r"
QUOTE = "'"
_RISKY_BYTE = np.zeros(256, dtype=bool)
_RISKY_BYTE[[ord(c) for c in FORMULA_STARTS]] = True


def neutralise_text(value: str) -> str:
    """One value (a stamp, a single cell)."""
    return QUOTE + value if value[:1] and value[0] in FORMULA_STARTS else value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The same for a pandas frame written by pandas (text columns only; not a hot path)."""
    changed = {}
    for name in frame.columns:
        column = frame[name]
        if not (pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column)):
            continue
        risky = column.str[:1].isin(list(FORMULA_STARTS)).to_numpy(dtype=bool, na_value=False)
        if risky.any():
            changed[name] = column.where(~risky, QUOTE + column.astype(str))
    return frame.assign(**changed) if changed else frame


def neutralise_table(table: pa.Table) -> pa.Table:
    """`table` with every risky text value quoted; other columns are returned untouched."""
    for index, field in enumerate(table.schema):
        column = table.column(index)
        if pa.types.is_dictionary(field.type) and _is_text(field.type.value_type):
            column = column.cast(field.type.value_type)
        elif not _is_text(field.type):
            continue
        chunks = [_neutralise_array(chunk) for chunk in column.chunks]
        if any(new is not old for new, old in zip(chunks, column.chunks, strict=True)) \
                or column.type != field.type:
            table = table.set_column(index, field.with_type(column.type),
                                     pa.chunked_array(chunks, column.type))
    return table


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _neutralise_array(array: pa.Array) -> pa.Array:
    risky = _risky(array)
    if not risky.any():
        return array
    quoted = pc.binary_join_element_wise(pa.scalar(QUOTE, array.type), array,
                                         pa.scalar("", array.type))
    return pc.if_else(pa.array(risky), quoted, array)


def _risky(array: pa.Array) -> np.ndarray:
    """True where a value starts with a formula character: the first byte of each value, read
    from the offsets and data buffers (all of FORMULA_STARTS are single ASCII bytes)."""
    _, offsets_buffer, data_buffer = array.buffers()
    if len(array) == 0 or data_buffer is None or data_buffer.size == 0:
        return np.zeros(len(array), dtype=bool)
    width = 8 if pa.types.is_large_string(array.type) else 4
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64 if width == 8 else np.int32,
                            count=len(array) + 1, offset=array.offset * width)
    data = np.frombuffer(data_buffer, dtype=np.uint8)
    starts = offsets[:-1]
    first = data[np.minimum(starts, data.size - 1)]
    risky = _RISKY_BYTE[first] & (offsets[1:] > starts)
    if array.null_count:
        risky &= array.is_valid().to_numpy(zero_copy_only=False)
    return risky
