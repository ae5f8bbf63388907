"""A package's public names resolved on first use (PEP 562), for the packages whose import
must stay cheap: `registry_project`, `core.entities`, `core.validation` (`registry --help`
must not pay for SQLAlchemy and every record class, issue #18)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from typing import Any


def lazy_names(
    package: str,
    public: Mapping[str, str],
    namespace: MutableMapping[str, Any],
    names: Sequence[str],
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The package's `__getattr__` and `__dir__`: a name of `public` (name -> the module
    that defines it) is imported from its module when first asked for, then kept in the
    package's `namespace` as an ordinary attribute; `dir()` lists `names` (`__all__`)."""

    def __getattr__(name: str) -> Any:
        module = public.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value  # once resolved, an ordinary attribute
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *names})

    return __getattr__, __dir__
