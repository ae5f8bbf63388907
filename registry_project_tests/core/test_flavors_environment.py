"""Flavors are an open registry; environment capture strips credentials and never fails."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path
from typing import BinaryIO

import pytest

from registry_project import ModelRegistry
from registry_project.core import environment, errors, flavors


class JsonFlavor(flavors.Flavor):
    """A flavor that cannot run code on load: what allow_pickle=False users register."""

    name = "test-json"
    pickle_based = False

    def can_handle(self, obj: object) -> bool:
        return isinstance(obj, dict) and obj.get("kind") == "json-model"

    def save(self, obj: object, fileobj: BinaryIO) -> None:
        fileobj.write(json.dumps(obj).encode())

    def load(self, fileobj: BinaryIO) -> object:
        return json.loads(fileobj.read())


def test_custom_flavor_is_inferred_and_allowed_without_pickle(tmp_path: Path) -> None:
    flavors.register_flavor(JsonFlavor(), replace=True)
    with pytest.raises(errors.FlavorError, match="already registered"):
        flavors.register_flavor(JsonFlavor())
    registry = ModelRegistry.open(
        f"sqlite:///{tmp_path / 'r.db'}", str(tmp_path / "a"), allow_pickle=False
    )
    try:
        mv = registry.register_model("rules", {"kind": "json-model", "threshold": 0.5})
        assert mv.flavor == "test-json"
        assert registry.load_model(mv) == {"kind": "json-model", "threshold": 0.5}
    finally:
        registry.close()


def test_unknown_flavor_names_the_known_ones() -> None:
    with pytest.raises(errors.FlavorError, match="pickle"):
        flavors.get_flavor("onnx-not-installed")


def test_joblib_writes_to_a_non_seekable_stream() -> None:
    from sklearn.tree import DecisionTreeClassifier

    class WriteOnly(io.RawIOBase):
        def __init__(self) -> None:
            self.buffer = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, data):  # type: ignore[no-untyped-def]
            self.buffer += data
            return len(data)

    model = DecisionTreeClassifier().fit([[0], [1]], [0, 1])
    sink = WriteOnly()
    flavors.get_flavor("joblib").save(model, sink)  # type: ignore[arg-type]
    loaded = flavors.get_flavor("joblib").load(io.BytesIO(bytes(sink.buffer)))
    assert loaded.predict([[1]]).tolist() == [1]


def test_remote_credentials_are_stripped(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(tmp_path),
            "remote",
            "add",
            "origin",
            "https://user:s3cret-token@example.com/team/repo.git",
        ],
        check=True,
    )
    (tmp_path / "f").write_text("x")
    subprocess.run(["git", "-C", str(tmp_path), "add", "f"], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(tmp_path),
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@e",
            "commit",
            "-qm",
            "x",
        ],
        check=True,
    )
    code = environment.capture_code(tmp_path)
    assert code.remote == "https://example.com/team/repo.git"
    assert code.dirty is False
    (tmp_path / "f").write_text("changed")
    assert environment.capture_code(tmp_path).dirty is True


def test_outside_git_everything_is_empty(tmp_path: Path) -> None:
    code = environment.capture_code(tmp_path)
    assert (code.commit, code.dirty, code.remote, code.branch) == (None, None, None, None)
    captured = environment.capture_environment(tmp_path)
    assert captured.files == ()
    assert any(p.startswith("pandas==") for p in captured.packages)


def test_parquet_round_trip_keeps_types_and_is_deterministic() -> None:
    import pandas as pd

    from registry_project.core import parquet as datasets

    frame = pd.DataFrame(
        {
            "n": [1, 2, 3],
            "x": [0.5, 1.5, None],
            "s": ["a", "b", "c"],
            "when": pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-03"]).tz_localize("UTC"),
            "plan": pd.Categorical(["basic", "pro", "basic"]),
            "flag": [True, False, True],
        },
        index=pd.Index([10, 20, 30], name="customer"),
    )
    first, second = io.BytesIO(), io.BytesIO()
    datasets.write_parquet(frame, first)
    datasets.write_parquet(frame.copy(deep=True), second)
    assert first.getvalue() == second.getvalue()
    first.seek(0)
    pd.testing.assert_frame_equal(datasets.read_parquet(first), frame)
    with pytest.raises(errors.InvalidInputError, match="duplicate"):
        datasets.write_parquet(pd.DataFrame([[1, 2]], columns=["a", "a"]), io.BytesIO())
