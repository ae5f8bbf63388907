"""Model (de)serialisation by flavor: an open registry of named formats.

Built in: `joblib` for scikit-learn objects and `pickle` for anything else. Both are
pickle-based: loading runs code chosen by whoever wrote the artifact, which is why the
registry verifies digests first and can refuse them outright (`allow_pickle=False`).
Register your own flavor for safer formats (ONNX, safetensors, JSON rules)::

    class OnnxFlavor(Flavor):
        name = "onnx"
        pickle_based = False
        def can_handle(self, obj): return type(obj).__module__.startswith("onnx")
        def save(self, obj, fileobj): fileobj.write(obj.SerializeToString())
        def load(self, fileobj): return onnx.load_model(fileobj)

    register_flavor(OnnxFlavor())

Saving always goes to a write-only, *non-seekable* stream (the blob store hashes bytes as
they pass), so a flavor must write front to back and never seek. Loading gets a seekable
stream whose digest has already been verified.
"""

from __future__ import annotations

import abc
import pickle
import threading
from typing import Any, BinaryIO

from registry_project.core import parquet
from registry_project.core.entities import Column
from registry_project.core.errors import FlavorError, InvalidInputError

# Pinned rather than pickle.HIGHEST_PROTOCOL: 5 is the highest on every supported Python,
# and a future Python raising the highest would change artifact bytes (and digests) and
# produce files older interpreters cannot read.
PICKLE_PROTOCOL = 5

# What pickle raises for objects it cannot serialise: PicklingError (lambdas at module
# level), TypeError (locks, sockets, generators), AttributeError (local functions and
# classes on Python < 3.14), RecursionError (very deep object graphs).
_PICKLING_FAILURES = (pickle.PicklingError, TypeError, AttributeError, RecursionError)


class Flavor(abc.ABC):
    """How one kind of model object becomes bytes and back.

    Subclasses set `name` (stored with every model version, so keep it stable) and
    `pickle_based` (True when loading can execute arbitrary code).
    """

    name: str
    pickle_based: bool

    @abc.abstractmethod
    def can_handle(self, obj: object) -> bool:
        """Whether `infer_flavor` should pick this flavor for `obj`."""

    @abc.abstractmethod
    def save(self, obj: object, fileobj: BinaryIO) -> None:
        """Write `obj`; `fileobj` supports only write/flush/tell (it is not seekable)."""

    @abc.abstractmethod
    def load(self, fileobj: BinaryIO) -> object:
        """Read back what `save` wrote; `fileobj` is seekable."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def _cannot_save(flavor: str, obj: object, exc: BaseException) -> FlavorError:
    return FlavorError(
        f"cannot serialise {python_class_of(obj)} with the {flavor!r} flavor ({exc}). "
        "Remove what cannot be pickled (lambdas, locks, open files, local functions), or "
        "register a custom Flavor for it (registry_project.core.flavors.register_flavor) "
        "and pass flavor=<its name>."
    )


def _cannot_load(flavor: str, exc: BaseException) -> FlavorError:
    # Loading fails in many ways (joblib's pure-Python unpickler raises IndexError or
    # struct.error on a truncated file; a class's __setstate__ can raise anything): all
    # become one FlavorError with the original chained, so callers handle one type.
    if isinstance(exc, ModuleNotFoundError):
        hint = (
            f"module {exc.name!r} is not installed here; install the packages the model was "
            "trained with (see the run's environment in the lineage)"
        )
    elif isinstance(exc, AttributeError):
        hint = (
            "a class it refers to no longer exists or was defined in a notebook/__main__; "
            "define model classes in an importable module and use the training code version"
        )
    else:
        hint = "the artifact is not valid for this flavor or was written by an incompatible version"
    return FlavorError(f"cannot load a {flavor!r} artifact ({exc}): {hint}")


class PickleFlavor(Flavor):
    """Plain pickle, protocol 5; the fallback for any picklable object.

    The C pickler streams protocol-5 frames to the file as they fill up and writes large
    buffers straight through, so a model is never held twice in memory.
    """

    name = "pickle"
    pickle_based = True

    def can_handle(self, obj: object) -> bool:
        return True

    def save(self, obj: object, fileobj: BinaryIO) -> None:
        try:
            pickle.dump(obj, fileobj, protocol=PICKLE_PROTOCOL)
        except _PICKLING_FAILURES as exc:
            raise _cannot_save(self.name, obj, exc) from exc

    def load(self, fileobj: BinaryIO) -> object:
        try:
            return pickle.load(fileobj)
        except Exception as exc:  # see _cannot_load
            raise _cannot_load(self.name, exc) from exc


class JoblibFlavor(Flavor):
    """joblib's pickler, which writes numpy arrays as raw chunks (no pickled copy).

    `joblib.dump(obj, fileobj, compress=0)` hands the file object straight to its pickler,
    which only writes and calls `tell()` to align arrays (and skips alignment when `tell`
    is unsupported), so it streams to a non-seekable writer. Compression is off because
    joblib's compressors need a real file; the blob store can compress at rest instead.
    """

    name = "joblib"
    pickle_based = True

    def can_handle(self, obj: object) -> bool:
        # Any class in the MRO from scikit-learn: estimators, Pipelines, and user-defined
        # estimators that subclass sklearn.base.BaseEstimator.
        return any(_is_sklearn_module(kind.__module__) for kind in type(obj).__mro__)

    def save(self, obj: object, fileobj: BinaryIO) -> None:
        import joblib  # imported lazily: a registry serving ONNX models needs no joblib

        try:
            joblib.dump(obj, fileobj, compress=0, protocol=PICKLE_PROTOCOL)
        except _PICKLING_FAILURES as exc:
            raise _cannot_save(self.name, obj, exc) from exc

    def load(self, fileobj: BinaryIO) -> object:
        import joblib

        try:
            return joblib.load(fileobj)
        except Exception as exc:  # see _cannot_load
            raise _cannot_load(self.name, exc) from exc


class MlflowDirectoryFlavor(Flavor):
    """An MLflow model directory (MLmodel and what it names), packed by `model_dirs.pack`.

    What `import_mlflow` stores: the directory as MLflow wrote it, byte for byte. Saving
    takes the directory's path; loading unpacks it into a temporary directory and returns
    `mlflow.pyfunc.load_model` of it (MLflow's client needed, imported only here). Loading
    runs whatever code the flavor names (pickles, cloudpickled Python models).
    """

    name = "mlflow"
    pickle_based = True

    def can_handle(self, obj: object) -> bool:
        return False  # never inferred: registered only by the import, with a directory

    def save(self, obj: object, fileobj: BinaryIO) -> None:
        from pathlib import Path

        from registry_project.core import model_dirs

        if not isinstance(obj, (str, Path)) or not Path(obj, "MLmodel").is_file():
            raise FlavorError(f"the mlflow flavor saves an MLflow model directory, not {obj!r}")
        model_dirs.pack(Path(obj), fileobj)

    def load(self, fileobj: BinaryIO) -> object:
        import shutil
        import tempfile
        import weakref
        from pathlib import Path

        from registry_project.core import model_dirs
        from registry_project.core.mlflow_source import require_mlflow

        mlflow = require_mlflow()
        directory = Path(tempfile.mkdtemp(prefix="registry-mlflow-"))
        model_dirs.unpack(fileobj, directory)
        try:
            model = mlflow.pyfunc.load_model(str(directory))
        except Exception as exc:
            shutil.rmtree(directory, ignore_errors=True)
            raise _cannot_load(self.name, exc) from exc
        # Some flavors read their files lazily: the directory lives as long as the model.
        weakref.finalize(model, shutil.rmtree, directory, True)
        return model


def _is_sklearn_module(module: str | None) -> bool:
    return module is not None and (module == "sklearn" or module.startswith("sklearn."))


# Inference order: flavors registered by users, most recent first, then the built-ins
# (joblib before the catch-all pickle). Replacing a flavor moves it to the front.
_BUILTINS: tuple[Flavor, ...] = (JoblibFlavor(), MlflowDirectoryFlavor(), PickleFlavor())
_flavors: list[Flavor] = list(_BUILTINS)
_lock = threading.Lock()


def register_flavor(flavor: Flavor, *, replace: bool = False) -> None:
    """Make `flavor` available by name and try it first in `infer_flavor`.

    Register before loading models saved with it: `load_model` looks flavors up by the
    name stored with the version. A name that is already taken needs `replace=True`.

    Example::

        register_flavor(OnnxFlavor())
        register_flavor(MyPickleFlavor(), replace=True)   # overrides the built-in "pickle"
    """
    if not isinstance(flavor, Flavor):
        raise FlavorError(
            f"{flavor!r} is not a Flavor: subclass registry_project.core.flavors.Flavor "
            "and register an instance"
        )
    name = getattr(flavor, "name", None)
    if not isinstance(name, str) or not name.strip():
        raise FlavorError(
            f"{type(flavor).__name__} needs a non-empty string class attribute `name`"
        )
    if not isinstance(getattr(flavor, "pickle_based", None), bool):
        raise FlavorError(
            f"{type(flavor).__name__} must set `pickle_based` to True or False, so that "
            "registries opened with allow_pickle=False know whether to refuse it"
        )
    with _lock:
        if not replace and any(existing.name == name for existing in _flavors):
            raise FlavorError(
                f"flavor {name!r} is already registered; pass replace=True to override it"
            )
        _flavors[:] = [flavor, *(existing for existing in _flavors if existing.name != name)]


def available_flavors() -> tuple[str, ...]:
    """Names of the registered flavors, in the order `infer_flavor` tries them."""
    return tuple(flavor.name for flavor in _flavors)


def get_flavor(name: str) -> Flavor:
    """The flavor registered under `name`."""
    for flavor in _flavors:
        if flavor.name == name:
            return flavor
    raise FlavorError(
        f"unknown flavor {name!r}; known flavors: {', '.join(available_flavors())}. "
        "Register it with registry_project.core.flavors.register_flavor before saving or "
        "loading models that use it."
    )


def infer_flavor(obj: object) -> Flavor:
    """The first flavor that can handle `obj`: user flavors (most recent first), then
    joblib for scikit-learn objects, then pickle."""
    for flavor in tuple(_flavors):
        if flavor.can_handle(obj):
            return flavor
    # Only reachable when the built-in "pickle" was replaced by a pickier flavor.
    return get_flavor("pickle")


def python_class_of(obj: object) -> str:
    """Fully qualified class name, e.g. `sklearn.linear_model._logistic.LogisticRegression`."""
    kind = type(obj)
    # Recorded for people, not to import it: cut to the column's 512 characters, so a
    # generated class with a huge name cannot fail a registration on PostgreSQL only.
    return f"{kind.__module__}.{kind.__qualname__}"[:512]


def signature_from_sample(sample: Any) -> tuple[Column, ...]:
    """The input columns (name, Arrow type) of a sample pandas DataFrame or Arrow table.

    The DataFrame index is not part of a model's input, so it is left out; only the
    schema is inferred, the sample is not copied into an Arrow table.
    """
    import pandas as pd  # imported on use: see core/parquet.py
    import pyarrow as pa

    if isinstance(sample, pd.DataFrame):
        parquet.check_unique_columns([str(name) for name in sample.columns])
        try:
            schema = pa.Schema.from_pandas(sample, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"cannot infer column types of the signature sample ({exc}); give each "
                "column values of one type"
            ) from exc
        return tuple(Column(field.name, str(field.type)) for field in schema)
    if isinstance(sample, pa.Table):
        return parquet.describe_columns(sample)
    raise InvalidInputError(
        f"signature must be a sample pandas DataFrame or pyarrow Table, not "
        f"{type(sample).__name__} (for numpy arrays: pd.DataFrame(X, columns=names))"
    )
