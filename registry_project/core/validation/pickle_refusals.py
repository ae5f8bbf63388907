"""The `allow_pickle` refusals: a registry opened with allow_pickle=False registers and
loads no code-executing flavor (which flavors those are is `core/flavors.pickle_based`)."""

from __future__ import annotations

from registry_project.core.errors import UnsafeFlavorError


def refuse_pickle_registration(flavor: str, *, pickle_based: bool, allow_pickle: bool) -> None:
    """A registry opened with allow_pickle=False registers no code-executing flavor."""
    if pickle_based and not allow_pickle:
        raise UnsafeFlavorError(
            f"flavor {flavor!r} is pickle-based and this registry was opened with "
            "allow_pickle=False; register with a flavor that does not execute code on load"
        )


def refuse_pickle_load(ref: str, flavor: str, *, pickle_based: bool, allow_pickle: bool) -> None:
    """A registry opened with allow_pickle=False loads no code-executing flavor."""
    if pickle_based and not allow_pickle:
        raise UnsafeFlavorError(
            f"{ref} uses the pickle-based flavor {flavor!r}; loading it can run "
            "arbitrary code. This registry was opened with allow_pickle=False: open it "
            "with allow_pickle=True only if you trust everyone who can register models."
        )
