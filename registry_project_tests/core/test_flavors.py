"""Flavors: an open registry of (de)serialisers that stream to non-seekable writers."""

from __future__ import annotations

import collections
import io
import json
import pickle
import threading
from collections.abc import Iterator
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from registry_project.core import errors, flavors
from registry_project.core.entities import Column


class WriteOnlyStream:
    """What the blob store hands to `save`: write, flush and tell; no seek, no read."""

    def __init__(self, *, with_tell: bool = True) -> None:
        self.data = bytearray()
        self.write_sizes: list[int] = []
        self._with_tell = with_tell

    def write(self, chunk: Any) -> int:
        size = memoryview(chunk).nbytes
        self.data += chunk
        self.write_sizes.append(size)
        return size

    def flush(self) -> None:
        pass

    def tell(self) -> int:
        if not self._with_tell:
            raise io.UnsupportedOperation("tell")
        return len(self.data)

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readable(self) -> bool:
        return False

    def reader(self) -> io.BytesIO:
        return io.BytesIO(bytes(self.data))


class JsonRules(flavors.Flavor):
    """A flavor that cannot run code on load."""

    name = "test-json-rules"
    pickle_based = False

    def can_handle(self, obj: object) -> bool:
        return isinstance(obj, dict) and obj.get("kind") == "rules"

    def save(self, obj: object, fileobj: BinaryIO) -> None:
        fileobj.write(json.dumps(obj, sort_keys=True).encode())

    def load(self, fileobj: BinaryIO) -> object:
        return json.loads(fileobj.read())


class EverythingFlavor(JsonRules):
    """Claims every object; used to check which user flavor is tried first."""

    def __init__(self, name: str) -> None:
        self.name = name

    def can_handle(self, obj: object) -> bool:
        return True


class CustomEstimator(ClassifierMixin, BaseEstimator):
    """A user-defined estimator: its module is not sklearn but its bases are."""

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = threshold


@pytest.fixture(autouse=True)
def isolated_flavors(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Registration is process-wide; each test gets its own copy of the registry."""
    monkeypatch.setattr(flavors, "_flavors", list(flavors._flavors))
    yield


def _fitted_logistic_regression() -> LogisticRegression:
    return LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])


def _round_trip(flavor: flavors.Flavor, obj: object, **stream_options: bool) -> object:
    sink = WriteOnlyStream(**stream_options)
    flavor.save(obj, sink)  # type: ignore[arg-type]
    return flavor.load(sink.reader())


def test_builtins_are_available_and_pickle_based() -> None:
    assert {"pickle", "joblib"} <= set(flavors.available_flavors())
    assert flavors.get_flavor("pickle").pickle_based
    assert flavors.get_flavor("joblib").pickle_based


def test_pickle_round_trips_through_a_write_only_stream() -> None:
    model = {"weights": np.arange(10.0), "bias": 0.5, "labels": ["no", "yes"]}
    loaded = _round_trip(flavors.get_flavor("pickle"), model)
    assert isinstance(loaded, dict)
    np.testing.assert_array_equal(loaded["weights"], model["weights"])
    assert loaded["labels"] == ["no", "yes"]


def test_pickle_uses_protocol_5() -> None:
    sink = WriteOnlyStream()
    flavors.get_flavor("pickle").save([1, 2, 3], sink)  # type: ignore[arg-type]
    assert bytes(sink.data[:2]) == b"\x80\x05"


@pytest.mark.parametrize("with_tell", [True, False], ids=["tell", "no-tell"])
def test_joblib_round_trips_a_pipeline_through_a_write_only_stream(with_tell: bool) -> None:
    x = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
    pipeline = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())])
    pipeline.fit(x, [0, 0, 1, 1])
    loaded = _round_trip(flavors.get_flavor("joblib"), pipeline, with_tell=with_tell)
    assert isinstance(loaded, Pipeline)
    assert loaded.predict(x).tolist() == pipeline.predict(x).tolist()


def test_joblib_streams_large_arrays_in_chunks() -> None:
    # 48 MB of coefficients: joblib writes them in chunks, never one model-sized buffer.
    model = FunctionTransformer(kw_args={"table": np.ones(6_000_000)})
    sink = WriteOnlyStream()
    flavors.get_flavor("joblib").save(model, sink)  # type: ignore[arg-type]
    assert len(sink.data) > 48_000_000
    assert max(sink.write_sizes) < len(sink.data) // 2
    loaded = flavors.get_flavor("joblib").load(sink.reader())
    assert isinstance(loaded, FunctionTransformer)
    assert loaded.kw_args["table"].sum() == 6_000_000


def test_infer_flavor_picks_joblib_for_scikit_learn_and_pickle_otherwise() -> None:
    pipeline = Pipeline([("clf", LogisticRegression())])
    assert flavors.infer_flavor(_fitted_logistic_regression()).name == "joblib"
    assert flavors.infer_flavor(pipeline).name == "joblib"
    assert flavors.infer_flavor(CustomEstimator()).name == "joblib"
    assert flavors.infer_flavor({"weights": [1, 2]}).name == "pickle"
    assert flavors.infer_flavor(np.zeros(3)).name == "pickle"


def test_user_flavors_are_tried_first_most_recent_first() -> None:
    flavors.register_flavor(JsonRules())
    assert flavors.infer_flavor({"kind": "rules"}).name == "test-json-rules"
    assert flavors.infer_flavor({"kind": "other"}).name == "pickle"

    flavors.register_flavor(EverythingFlavor("test-first"))
    flavors.register_flavor(EverythingFlavor("test-second"))
    assert flavors.infer_flavor({"kind": "rules"}).name == "test-second"
    # Even before the built-in joblib for scikit-learn objects.
    assert flavors.infer_flavor(_fitted_logistic_regression()).name == "test-second"
    assert flavors.available_flavors()[:3] == ("test-second", "test-first", "test-json-rules")


def test_registering_a_taken_name_needs_replace() -> None:
    flavors.register_flavor(JsonRules())
    with pytest.raises(errors.FlavorError, match=r"already registered.*replace=True"):
        flavors.register_flavor(JsonRules())
    with pytest.raises(errors.FlavorError, match="already registered"):
        flavors.register_flavor(EverythingFlavor("pickle"))

    replacement = JsonRules()
    flavors.register_flavor(replacement, replace=True)
    assert flavors.get_flavor("test-json-rules") is replacement
    assert flavors.available_flavors().count("test-json-rules") == 1


def test_replacing_a_builtin_shadows_it_everywhere() -> None:
    mine = EverythingFlavor("pickle")
    flavors.register_flavor(mine, replace=True)
    assert flavors.get_flavor("pickle") is mine
    assert flavors.infer_flavor(object()) is mine
    assert flavors.available_flavors().count("pickle") == 1


def test_register_refuses_what_is_not_a_flavor() -> None:
    with pytest.raises(errors.FlavorError, match="not a Flavor"):
        flavors.register_flavor(pickle)  # type: ignore[arg-type]

    class Nameless(JsonRules):
        name = ""

    with pytest.raises(errors.FlavorError, match="name"):
        flavors.register_flavor(Nameless())


def test_registered_flavor_round_trips_by_name() -> None:
    flavors.register_flavor(JsonRules())
    rules = {"kind": "rules", "threshold": 0.5}
    assert _round_trip(flavors.get_flavor("test-json-rules"), rules) == rules


def test_unknown_flavor_lists_the_known_ones() -> None:
    with pytest.raises(errors.FlavorError, match=r"onnx-missing.*known flavors: .*joblib"):
        flavors.get_flavor("onnx-missing")


def _local_function() -> object:
    def inner() -> None:
        pass

    return inner


@pytest.mark.parametrize("flavor_name", ["pickle", "joblib"])
@pytest.mark.parametrize(
    "unpicklable",
    [lambda: 1, threading.Lock(), _local_function()],
    ids=["lambda", "lock", "local-function"],
)
def test_unpicklable_objects_raise_a_flavor_error_suggesting_a_custom_flavor(
    flavor_name: str, unpicklable: object
) -> None:
    model = {"predict": unpicklable}
    with pytest.raises(errors.FlavorError, match="custom Flavor") as caught:
        flavors.get_flavor(flavor_name).save(model, WriteOnlyStream())  # type: ignore[arg-type]
    assert "builtins.dict" in str(caught.value)
    assert caught.value.__cause__ is not None


@pytest.mark.parametrize("flavor_name", ["pickle", "joblib"])
def test_truncated_artifacts_raise_a_flavor_error(flavor_name: str) -> None:
    sink = WriteOnlyStream()
    flavor = flavors.get_flavor(flavor_name)
    flavor.save(_fitted_logistic_regression(), sink)  # type: ignore[arg-type]
    with pytest.raises(errors.FlavorError, match="cannot load"):
        flavor.load(io.BytesIO(bytes(sink.data[: len(sink.data) // 2])))


def test_missing_module_on_load_says_what_to_install() -> None:
    # A model pickled where a package was installed, loaded where it is not.
    payload = pickle.dumps(collections.OrderedDict, protocol=5)
    payload = payload.replace(b"collections", b"collectionz")  # same length: frame stays valid
    with pytest.raises(errors.FlavorError, match=r"collectionz.*install"):
        flavors.get_flavor("pickle").load(io.BytesIO(payload))


def test_python_class_of_is_fully_qualified() -> None:
    assert (
        flavors.python_class_of(_fitted_logistic_regression())
        == "sklearn.linear_model._logistic.LogisticRegression"
    )
    assert flavors.python_class_of(CustomEstimator()).endswith("test_flavors.CustomEstimator")
    assert flavors.python_class_of({}) == "builtins.dict"


def test_signature_from_a_dataframe_leaves_the_index_out() -> None:
    sample = pd.DataFrame(
        {"age": [31, 45], "plan": ["basic", "pro"], "spend": [1.5, 2.5]},
        index=pd.Index([7, 9], name="customer"),
    )
    assert flavors.signature_from_sample(sample) == (
        Column("age", "int64"),
        Column("plan", "large_string"),
        Column("spend", "double"),
    )


def test_signature_from_an_arrow_table() -> None:
    table = pa.table({"x": pa.array([1.0, 2.0]), "flag": pa.array([True, False])})
    assert flavors.signature_from_sample(table) == (Column("x", "double"), Column("flag", "bool"))


@pytest.mark.parametrize(
    "sample",
    [np.zeros((2, 2)), [[1, 2]], {"x": [1]}, None],
    ids=["ndarray", "list", "dict", "none"],
)
def test_signature_refuses_other_types(sample: object) -> None:
    with pytest.raises(errors.InvalidInputError, match="DataFrame or pyarrow Table"):
        flavors.signature_from_sample(sample)


def test_signature_refuses_duplicate_columns() -> None:
    with pytest.raises(errors.InvalidInputError, match="duplicate"):
        flavors.signature_from_sample(pd.DataFrame([[1, 2]], columns=["a", "a"]))
