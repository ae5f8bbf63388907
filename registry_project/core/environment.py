"""Capture of the "software" lineage: source code version and environment.

Never raises: a training run must not fail because git is missing or a file is unreadable;
the fields are simply left empty.
"""

from __future__ import annotations

import functools
import importlib.metadata
import platform
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from registry_project.core.entities import CodeVersion

GIT_TIMEOUT_SECONDS = 10
ENVIRONMENT_FILE_PATTERNS = (
    "Dockerfile",
    "environment.yml",
    "environment.yaml",
    "conda.yml",
    "conda.yaml",
    "requirements*.txt",
    "pyproject.toml",
    "poetry.lock",
    "uv.lock",
    "Pipfile",
    "Pipfile.lock",
    "setup.cfg",
)
_CREDENTIALS_RE = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@]*@", re.IGNORECASE)


def _git(start: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(start), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def find_project_root(start: Path | None = None) -> Path:
    base = (start or Path.cwd()).resolve()
    top = _git(base, "rev-parse", "--show-toplevel")
    return Path(top) if top else base


def strip_credentials(url: str) -> str:
    """`https://user:token@host/x.git` -> `https://host/x.git`: tokens never reach the DB."""
    return _CREDENTIALS_RE.sub(r"\g<scheme>", url)


def capture_code(start: Path | None = None) -> CodeVersion:
    base = (start or Path.cwd()).resolve()
    commit = _git(base, "rev-parse", "HEAD")
    if commit is None:
        return CodeVersion()
    status = _git(base, "status", "--porcelain")
    remote = _git(base, "config", "--get", "remote.origin.url")
    branch = _git(base, "rev-parse", "--abbrev-ref", "HEAD")
    return CodeVersion(
        commit=commit,
        dirty=None if status is None else bool(status),
        remote=strip_credentials(remote) if remote else None,
        branch=branch if branch and branch != "HEAD" else None,
    )


@dataclass(frozen=True)
class CapturedEnvironment:
    python_version: str
    platform: str
    packages: tuple[str, ...]
    files: tuple[tuple[str, Path], ...]

    def packages_text(self) -> bytes:
        return ("\n".join(self.packages) + "\n").encode("utf-8")


@functools.cache
def installed_packages() -> tuple[str, ...]:
    """Sorted `name==version` of every installed distribution; cached per process because
    it takes tens of milliseconds and registration is on the hot path."""
    found: set[str] = set()
    for dist in importlib.metadata.distributions():
        name = dist.metadata.get("Name")
        if name:
            normalised = re.sub(r"[-_.]+", "-", name).lower()
            found.add(f"{normalised}=={dist.version}")
    return tuple(sorted(found))


def environment_files(root: Path) -> tuple[tuple[str, Path], ...]:
    found: dict[str, Path] = {}
    for pattern in ENVIRONMENT_FILE_PATTERNS:
        for path in root.glob(pattern):
            if path.is_file():
                found[path.name] = path
    return tuple(sorted(found.items()))


def capture_environment(start: Path | None = None) -> CapturedEnvironment:
    root = find_project_root(start)
    return CapturedEnvironment(
        python_version=platform.python_version(),
        platform=platform.platform(),
        packages=installed_packages(),
        files=environment_files(root),
    )
