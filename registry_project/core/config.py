"""Where the registry lives and who is acting: arguments, then environment, then defaults."""

from __future__ import annotations

import functools
import getpass
import os
from dataclasses import dataclass
from pathlib import Path

from registry_project.core.secrets import mask_credentials
from registry_project.core.validation import validate_actor

DATABASE_URL_ENV = "REGISTRY_DATABASE_URL"
ARTIFACT_ROOT_ENV = "REGISTRY_ARTIFACT_ROOT"
ACTOR_ENV = "REGISTRY_ACTOR"
DEFAULT_HOME = Path(".registry")


@dataclass(frozen=True)
class RegistryConfig:
    database_url: str
    artifact_root: str

    def __repr__(self) -> str:
        # A config ends up in logs and tracebacks; its URL may carry a password.
        return (
            f"RegistryConfig(database_url={mask_credentials(self.database_url)!r}, "
            f"artifact_root={self.artifact_root!r})"
        )

    @classmethod
    def resolve(
        cls, database_url: str | None = None, artifact_root: str | None = None
    ) -> RegistryConfig:
        """Arguments win, then REGISTRY_DATABASE_URL / REGISTRY_ARTIFACT_ROOT, then
        ./.registry/registry.db and ./.registry/artifacts (made absolute now, so a later
        chdir does not move the registry)."""
        home = DEFAULT_HOME.resolve()
        url = (
            database_url or os.environ.get(DATABASE_URL_ENV) or f"sqlite:///{home / 'registry.db'}"
        )
        root = artifact_root or os.environ.get(ARTIFACT_ROOT_ENV) or str(home / "artifacts")
        if "://" not in root:
            root = str(Path(root).expanduser().resolve())
        return cls(database_url=url, artifact_root=root)


def resolve_actor(actor: str | None = None) -> str:
    """The argument, else REGISTRY_ACTOR, else the operating-system user."""
    if actor is not None:
        return validate_actor(actor)
    from_env = os.environ.get(ACTOR_ENV)
    if from_env:
        return validate_actor(from_env)
    # getpass reads these variables before falling back to the passwd database; keying the
    # cache on them and the uid keeps a change visible while sparing every write a passwd
    # lookup.
    return _operating_system_user(
        tuple(os.environ.get(name) for name in ("LOGNAME", "USER", "LNAME", "USERNAME")),
        os.getuid() if hasattr(os, "getuid") else None,
    )


@functools.lru_cache(maxsize=8)
def _operating_system_user(_environment: tuple[str | None, ...], _uid: int | None) -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. an anonymous container user
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"
