"""Parquet snapshots: deterministic bytes, faithful round trips, clear refusals."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from registry_project.core import errors
from registry_project.core import parquet as datasets
from registry_project.core.entities import Column


class WriteOnlyStream:
    """What the blob store hands to `write_parquet`: write, flush and tell only."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, chunk: Any) -> int:
        self.data += chunk
        return memoryview(chunk).nbytes

    def flush(self) -> None:
        pass

    def tell(self) -> int:
        return len(self.data)

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readable(self) -> bool:
        return False

    @property
    def closed(self) -> bool:
        return False

    def close(self) -> None:
        pass


def customers(index: pd.Index | None = None) -> pd.DataFrame:
    """A fresh frame with every dtype a snapshot must keep."""
    return pd.DataFrame(
        {
            "n": np.array([1, 2, 3], dtype="int64"),
            "small": np.array([1, -2, 3], dtype="int16"),
            "x": [0.5, 1.5, None],
            "s": ["a", "b", "c"],
            "when": pd.to_datetime(
                ["2026-01-01 00:00", "2026-01-02 12:30", "2026-01-03 08:15"]
            ).tz_localize("Europe/Paris"),
            "plan": pd.Categorical(["basic", "pro", "basic"], categories=["basic", "pro", "vip"]),
            "flag": [True, False, True],
        },
        index=index,
    )


def parquet_bytes(data: Any) -> bytes:
    sink = WriteOnlyStream()
    datasets.write_parquet(data, sink)  # type: ignore[arg-type]
    return bytes(sink.data)


def round_trip(data: Any, *, as_arrow: bool = False) -> Any:
    return datasets.read_parquet(io.BytesIO(parquet_bytes(data)), as_arrow=as_arrow)


@pytest.mark.parametrize(
    "index",
    [None, pd.Index([10, 20, 30], name="customer"), pd.Index(["a", "b", "c"])],
    ids=["default", "named-int", "string"],
)
def test_round_trip_keeps_dtypes_values_and_index(index: pd.Index | None) -> None:
    frame = customers(index)
    loaded = round_trip(frame)
    pd.testing.assert_frame_equal(loaded, frame, check_index_type=True)
    assert loaded.dtypes.to_dict() == frame.dtypes.to_dict()
    assert str(loaded["when"].dt.tz) == "Europe/Paris"
    assert list(loaded["plan"].cat.categories) == ["basic", "pro", "vip"]


def test_range_index_slices_and_non_string_labels_round_trip() -> None:
    sliced = customers().iloc[1:]
    pd.testing.assert_frame_equal(round_trip(sliced), sliced, check_index_type=True)
    numbered = pd.DataFrame({1: [1.0, 2.0], 2: [3.0, 4.0]})
    numbered.columns.name = "feature"
    pd.testing.assert_frame_equal(round_trip(numbered), numbered)


def test_the_default_index_is_not_stored_as_a_column() -> None:
    assert datasets.to_arrow(customers()).column_names == list(customers().columns)
    indexed = datasets.to_arrow(customers(pd.Index([10, 20, 30], name="customer")))
    assert indexed.column_names == [*customers().columns, "customer"]


def test_same_content_gives_identical_bytes() -> None:
    frame = customers()
    assert parquet_bytes(frame) == parquet_bytes(frame)
    # Two separately built objects with equal content, and a deep copy.
    assert parquet_bytes(customers()) == parquet_bytes(customers())
    assert parquet_bytes(frame) == parquet_bytes(frame.copy(deep=True))
    indexed = pd.Index([10, 20, 30], name="customer")
    assert parquet_bytes(customers(indexed)) == parquet_bytes(customers(indexed.copy()))
    table = pa.table({"a": [1, 2], "b": ["x", "y"]})
    assert parquet_bytes(table) == parquet_bytes(pa.table({"a": [1, 2], "b": ["x", "y"]}))


def test_different_content_gives_different_bytes() -> None:
    changed = customers()
    changed.loc[1, "n"] = 99
    assert parquet_bytes(changed) != parquet_bytes(customers())


def test_write_to_a_non_seekable_stream_matches_a_seekable_one() -> None:
    seekable = io.BytesIO()
    datasets.write_parquet(customers(), seekable)
    assert parquet_bytes(customers()) == seekable.getvalue()
    assert seekable.getvalue()[:4] == b"PAR1"


def test_write_reports_the_shape() -> None:
    shape = datasets.write_parquet(customers(), WriteOnlyStream())  # type: ignore[arg-type]
    assert shape.row_count == 3
    assert shape.columns[0] == Column("n", "int64")
    assert [c.name for c in shape.columns] == list(customers().columns)
    types = {column.name: column.type for column in shape.columns}
    assert types["when"].endswith(", tz=Europe/Paris]")  # ns or us, by pandas version
    assert types["plan"].startswith("dictionary<values=")


def test_compression_is_zstd() -> None:
    import pyarrow.parquet as pq

    metadata = pq.ParquetFile(io.BytesIO(parquet_bytes(customers()))).metadata
    assert metadata.row_group(0).column(0).compression == "ZSTD"


def test_arrow_tables_round_trip_as_arrow() -> None:
    table = pa.table(
        {
            "id": pa.array([1, 2], pa.int32()),
            "at": pa.array([0, 1], pa.timestamp("ms", tz="UTC")),
            "tags": pa.array([["a"], []], pa.list_(pa.string())),
        }
    )
    loaded = round_trip(table, as_arrow=True)
    assert isinstance(loaded, pa.Table)
    assert loaded.equals(table)
    assert isinstance(round_trip(table), pd.DataFrame)


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame(columns=["a", "b"]),
        pd.DataFrame(
            {
                "a": pd.Series([], dtype="int64"),
                "b": pd.Series([], dtype="float64"),
                "c": pd.Series([], dtype="bool"),
            }
        ),
    ],
    ids=["untyped", "typed"],
)
def test_empty_dataframe_with_columns(frame: pd.DataFrame) -> None:
    shape = datasets.write_parquet(frame, WriteOnlyStream())  # type: ignore[arg-type]
    assert shape.row_count == 0
    assert [c.name for c in shape.columns] == list(frame.columns)
    pd.testing.assert_frame_equal(round_trip(frame), frame)


@pytest.mark.parametrize(
    "columns",
    [["a", "a"], [1, "1"]],
    ids=["same-name", "same-after-str"],
)
def test_duplicate_column_names_are_refused_before_writing(columns: list[Any]) -> None:
    sink = WriteOnlyStream()
    with pytest.raises(errors.InvalidInputError, match="duplicate column names"):
        datasets.write_parquet(pd.DataFrame([[1, 2]], columns=columns), sink)  # type: ignore[arg-type]
    assert sink.data == b""


def test_arrow_table_with_duplicate_names_is_refused() -> None:
    table = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["a", "a"])
    with pytest.raises(errors.InvalidInputError, match="duplicate"):
        datasets.to_arrow(table)


@pytest.mark.parametrize(
    "data",
    [[{"a": 1}], {"a": [1]}, np.zeros((2, 2)), pd.Series([1, 2]), None],
    ids=["records", "dict", "ndarray", "series", "none"],
)
def test_other_types_are_refused(data: Any) -> None:
    with pytest.raises(errors.InvalidInputError, match="pass a pandas DataFrame or pyarrow Table"):
        datasets.to_arrow(data)


def test_a_column_of_mixed_types_is_refused_with_advice() -> None:
    mixed = pd.DataFrame({"v": [1, "two", 3.0]})
    with pytest.raises(errors.InvalidInputError, match="one type"):
        datasets.to_arrow(mixed)


def test_describe_columns() -> None:
    table = pa.table({"a": pa.array([1], pa.int8()), "b": pa.array(["x"], pa.large_string())})
    assert datasets.describe_columns(table) == (Column("a", "int8"), Column("b", "large_string"))


def test_reading_something_that_is_not_parquet() -> None:
    with pytest.raises(errors.InvalidInputError, match="not a readable parquet"):
        datasets.read_parquet(io.BytesIO(b"definitely not parquet"))
