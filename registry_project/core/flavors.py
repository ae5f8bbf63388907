"""Model (de)serialisation by flavor: an open registry of named formats.

Built in: `joblib` for scikit-learn objects (efficient for numpy arrays), `pickle` for
anything else. Both are pickle-based: loading runs code chosen by whoever wrote the
artifact, which is why the registry verifies digests first and can refuse them outright
(`allow_pickle=False`). Register your own flavor for safer formats (ONNX, safetensors).
"""

from __future__ import annotations

import abc
import pickle
from typing import Any, BinaryIO

from registry_project.core import datasets as tables
from registry_project.core.entities import Column
from registry_project.core.errors import FlavorError, InvalidInputError


class Flavor(abc.ABC):
    """How one kind of model object becomes bytes and back."""

    name: str
    pickle_based: bool

    @abc.abstractmethod
    def can_handle(self, obj: object) -> bool: ...

    @abc.abstractmethod
    def save(self, obj: object, fileobj: BinaryIO) -> None:
        """Write `obj`; `fileobj` is write-only and not seekable."""

    @abc.abstractmethod
    def load(self, fileobj: BinaryIO) -> object: ...


def _unpicklable(obj: object, exc: Exception) -> FlavorError:
    return FlavorError(
        f"cannot serialise {python_class_of(obj)} with pickle ({exc}); register a custom "
        "Flavor for it (registry_project.core.flavors.register_flavor) or pass flavor="
    )


class PickleFlavor(Flavor):
    name = "pickle"
    pickle_based = True

    def can_handle(self, obj: object) -> bool:
        return True

    def save(self, obj: object, fileobj: BinaryIO) -> None:
        try:
            pickle.dump(obj, fileobj, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            raise _unpicklable(obj, exc) from exc

    def load(self, fileobj: BinaryIO) -> object:
        return pickle.load(fileobj)


class JoblibFlavor(Flavor):
    """joblib streams numpy arrays without copies; it accepts a non-seekable writer when
    compression is off, so a large model never sits twice in memory."""

    name = "joblib"
    pickle_based = True

    def can_handle(self, obj: object) -> bool:
        module = type(obj).__module__ or ""
        return module == "sklearn" or module.startswith("sklearn.")

    def save(self, obj: object, fileobj: BinaryIO) -> None:
        import joblib

        try:
            joblib.dump(obj, fileobj, compress=0)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            raise _unpicklable(obj, exc) from exc

    def load(self, fileobj: BinaryIO) -> object:
        import joblib

        return joblib.load(fileobj)


_BUILTIN: tuple[Flavor, ...] = (JoblibFlavor(), PickleFlavor())
_USER: list[Flavor] = []


def register_flavor(flavor: Flavor, *, replace: bool = False) -> None:
    """Add a flavor; user flavors are tried before the built-ins by `infer_flavor`."""
    if not isinstance(flavor, Flavor):
        raise FlavorError(f"{flavor!r} is not a Flavor subclass instance")
    existing = [f for f in (*_USER, *_BUILTIN) if f.name == flavor.name]
    if existing and not replace:
        raise FlavorError(f"flavor {flavor.name!r} is already registered; pass replace=True")
    _USER[:] = [f for f in _USER if f.name != flavor.name]
    _USER.insert(0, flavor)


def available_flavors() -> tuple[str, ...]:
    names: list[str] = []
    for flavor in (*_USER, *_BUILTIN):
        if flavor.name not in names:
            names.append(flavor.name)
    return tuple(names)


def get_flavor(name: str) -> Flavor:
    for flavor in (*_USER, *_BUILTIN):
        if flavor.name == name:
            return flavor
    raise FlavorError(
        f"unknown flavor {name!r}; known flavors: {', '.join(available_flavors())}. "
        "Register it with registry_project.core.flavors.register_flavor before loading."
    )


def infer_flavor(obj: object) -> Flavor:
    for flavor in (*_USER, *_BUILTIN):
        if flavor.can_handle(obj):
            return flavor
    return _BUILTIN[-1]


def python_class_of(obj: object) -> str:
    kind = type(obj)
    return f"{kind.__module__}.{kind.__qualname__}"


def signature_from_sample(sample: Any) -> tuple[Column, ...]:
    """The input columns (name, Arrow type) of a sample DataFrame or Arrow table."""
    try:
        table = tables.to_arrow(sample)
    except InvalidInputError as exc:
        raise InvalidInputError(
            f"signature must be a sample pandas DataFrame or pyarrow Table: {exc}"
        ) from exc
    return tables.describe_columns(table)
