"""DataFrame / Arrow table <-> parquet, deterministically.

The same content must give the same bytes (and so the same digest, so that a snapshot of
unchanged data is recognised as such): pyarrow puts no timestamps in the file, the
compression and row-group size are fixed here, and a default RangeIndex is kept as a few
bytes of pandas metadata rather than as a column. The bytes do depend on the pyarrow and
pandas versions (both are named in the file), so identical content written by different
library versions may get a different digest.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from registry_project.core.entities import Column
from registry_project.core.errors import InvalidInputError

# pandas and pyarrow take ~0.5 s to import: only the calls that need them pay for it
# (CLI commands that list or show versions, runs and events never do).
if TYPE_CHECKING:
    import pyarrow as pa

COMPRESSION = "zstd"
# Pinned so that a change of pyarrow's default does not silently change every digest.
ROW_GROUP_SIZE = 1024 * 1024


@dataclass(frozen=True)
class TableShape:
    """What a snapshot holds: the `dagster/row_count` and `dagster/column_schema`."""

    row_count: int
    columns: tuple[Column, ...]


def check_unique_columns(names: Iterable[str]) -> None:
    """Parquet needs unique column names; refuse duplicates before anything is written."""
    duplicated = sorted(name for name, count in Counter(names).items() if count > 1)
    if duplicated:
        raise InvalidInputError(
            f"duplicate column names {duplicated}: parquet needs unique names; rename them "
            "(e.g. df.columns = [...]) before snapshotting"
        )


def to_arrow(data: Any) -> pa.Table:
    """`data` as an Arrow table; DataFrames keep their index only if it is not the default.

    `preserve_index=None` stores any RangeIndex (the default one included) as metadata
    only, and other indexes as columns, so `read_parquet` gives the same frame back.
    """
    import pandas as pd
    import pyarrow as pa

    if isinstance(data, pa.Table):
        table = data
    elif isinstance(data, pd.DataFrame):
        # Checked on the labels as strings: Arrow stringifies them, so 1 and "1" collide.
        check_unique_columns(str(name) for name in data.columns)
        try:
            table = pa.Table.from_pandas(data, preserve_index=None)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            raise InvalidInputError(
                f"cannot convert the DataFrame to Arrow ({exc}); give each column values "
                "of one type (e.g. df[col].astype(str))"
            ) from exc
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"cannot convert the DataFrame to Arrow: {exc}") from exc
    else:
        raise InvalidInputError(
            f"cannot snapshot a {type(data).__module__}.{type(data).__qualname__}: "
            "pass a pandas DataFrame or pyarrow Table"
        )
    check_unique_columns(table.column_names)
    return table


def describe_columns(table: pa.Table) -> tuple[Column, ...]:
    """(name, Arrow type string) of every column, index columns included."""
    return tuple(Column(field.name, str(field.type)) for field in table.schema)


def write_parquet(data: Any, fileobj: BinaryIO) -> TableShape:
    """Write `data` as parquet to `fileobj`, which only needs `write` (it is never sought).

    Example::

        with blobs.writer() as out:
            shape = write_parquet(df, out)
    """
    import pyarrow.parquet as pq

    table = to_arrow(data)
    pq.write_table(
        table,
        fileobj,
        compression=COMPRESSION,
        row_group_size=ROW_GROUP_SIZE,
        write_statistics=True,
    )
    return TableShape(table.num_rows, describe_columns(table))


def read_parquet(fileobj: BinaryIO, *, as_arrow: bool = False) -> Any:
    """Read a parquet file: a DataFrame (dtypes and index restored from the pandas
    metadata) by default, the Arrow table if `as_arrow`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(fileobj)
    except pa.ArrowInvalid as exc:
        raise InvalidInputError(
            f"the stream is not a readable parquet file ({exc}); check that it is a dataset "
            "snapshot and not another kind of blob"
        ) from exc
    return table if as_arrow else table.to_pandas()
