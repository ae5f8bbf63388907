"""DataFrame / Arrow table <-> parquet, deterministically.

The same content must give the same bytes (and so the same digest): no timestamps in the
file, a fixed compression, the default RangeIndex dropped rather than stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, BinaryIO

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from registry_project.core.entities import Column
from registry_project.core.errors import InvalidInputError

COMPRESSION = "zstd"


@dataclass(frozen=True)
class TableShape:
    row_count: int
    columns: tuple[Column, ...]


def _has_default_index(frame: pd.DataFrame) -> bool:
    index = frame.index
    return (
        isinstance(index, pd.RangeIndex)
        and index.start == 0
        and index.step == 1
        and index.name is None
    )


def to_arrow(data: Any) -> pa.Table:
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pd.DataFrame):
        if data.columns.duplicated().any():
            duplicated = sorted({str(c) for c in data.columns[data.columns.duplicated()]})
            raise InvalidInputError(
                f"DataFrame has duplicate column names {duplicated}; parquet needs unique names"
            )
        try:
            return pa.Table.from_pandas(data, preserve_index=not _has_default_index(data))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"cannot convert the DataFrame to Arrow ({exc}); give columns one type each"
            ) from exc
    raise InvalidInputError(
        f"cannot snapshot a {type(data).__name__}: pass a pandas DataFrame or pyarrow Table"
    )


def describe_columns(table: pa.Table) -> tuple[Column, ...]:
    return tuple(Column(field.name, str(field.type)) for field in table.schema)


def write_parquet(data: Any, fileobj: BinaryIO) -> TableShape:
    table = to_arrow(data)
    if len(set(table.column_names)) != len(table.column_names):
        raise InvalidInputError("the table has duplicate column names; parquet needs unique names")
    pq.write_table(table, fileobj, compression=COMPRESSION, write_statistics=True)
    return TableShape(table.num_rows, describe_columns(table))


def read_parquet(fileobj: BinaryIO, *, as_arrow: bool = False) -> Any:
    table = pq.read_table(fileobj)
    return table if as_arrow else table.to_pandas()
