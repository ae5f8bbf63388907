"""Capture of the "software" lineage: source code version and environment.

Never raises: a training run must not fail because git is missing, slow or confused, or a
file is unreadable; the fields are simply left empty.
"""

from __future__ import annotations

import fnmatch
import functools
import importlib.metadata
import os
import platform
import re
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from registry_project.core.entities import CodeVersion

T = TypeVar("T")

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

# Variables that would point git at another repository than the one `start` is in (they
# are set, for instance, when the registry is used from inside a git hook).
_GIT_REPOSITORY_VARIABLES = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR")
_URL_USERINFO = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<userinfo>[^/?#]*)@", re.I)
# The same inside a file's text (`--extra-index-url https://__token__:T@host/simple`): a
# URL ends at white space or a quote.
_URL_USERINFO_IN_TEXT = re.compile(
    r"(?P<scheme>\b[a-z][a-z0-9+.-]*://)(?P<userinfo>[^/?#\s'\"<>@]*(?:@[^/?#\s'\"<>@]*)*)@",
    re.I,
)
_NAME_SEPARATORS = re.compile(r"[-_.]+")


def _git_environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _GIT_REPOSITORY_VARIABLES}
    # No index.lock for a read-only status, so a capture never collides with the user's
    # own git commands; and never wait for a prompt.
    env["GIT_OPTIONAL_LOCKS"] = "0"
    env["GIT_TERMINAL_PROMPT"] = "0"
    return env


def _git(start: Path, *args: str) -> str | None:
    """stdout of `git -C start args...`, or None if git is missing, fails or times out."""
    try:
        done = subprocess.run(
            ["git", "-C", str(start), *args],
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            stdin=subprocess.DEVNULL,
            env=_git_environment(),
            timeout=GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _start_directory(start: Path | None) -> Path | None:
    try:
        return Path(start).resolve() if start is not None else Path.cwd()
    except OSError:  # the working directory was deleted under us
        return None


def find_project_root(start: Path | None = None) -> Path:
    """The git top level of `start` (default: the working directory) if it is inside a
    git work tree, else `start` itself."""
    base = _start_directory(start)
    if base is None:
        return Path(start) if start is not None else Path(".")
    top = _git(base, "rev-parse", "--show-toplevel")
    return Path(top) if top else base


def strip_credentials(url: str) -> str:
    """`https://user:token@host/x.git` -> `https://host/x.git`: secrets never reach the DB.

    Any user information of an http(s) URL is dropped (a lone token is often put in the
    user part); other schemes keep a bare user name (`ssh://git@host/x`) but lose a
    password. scp-like `git@host:x.git` has no password syntax and is kept as it is.
    """
    match = _URL_USERINFO.match(url)
    if match is None:
        return url
    return _without_secret_userinfo(match) + url[match.end() :]


def _without_secret_userinfo(match: re.Match[str]) -> str:
    """A matched `scheme://userinfo@` without its secret: http(s), also behind a VCS
    prefix such as `git+https://`, loses all user information, others a password."""
    scheme, userinfo = match["scheme"], match["userinfo"]
    web = re.search(r"(^|\+)https?://$", scheme, re.I) is not None
    if ":" in userinfo or web:
        return scheme
    return match.group(0)


def strip_credentials_in_text(text: str) -> str:
    """Every URL in `text` without credentials, as `strip_credentials` does for one URL:
    what a captured requirements file, environment.yml, Pipfile or lock file says about
    its package indexes (`-i`, `--extra-index-url`, `[[source]] url`) is kept, the token
    in them is not."""
    return _URL_USERINFO_IN_TEXT.sub(_without_secret_userinfo, text)


def read_environment_file(path: Path) -> bytes:
    """A captured environment file's bytes, with the credentials of every URL in it
    stripped (see `strip_credentials_in_text`); bytes that are not UTF-8 are kept as
    they are. Raises OSError if it cannot be read."""
    text = path.read_bytes().decode("utf-8", "surrogateescape")
    return strip_credentials_in_text(text).encode("utf-8", "surrogateescape")


def capture_code(start: Path | None = None) -> CodeVersion:
    """Commit, dirty flag (untracked files count), origin URL without credentials and
    branch of the git work tree containing `start`; all None outside git. Never raises."""
    try:
        base = _start_directory(start)
        if base is None:
            return CodeVersion()
        commit = _git(base, "rev-parse", "--verify", "--quiet", "HEAD")
        if commit is None:  # not a work tree, git missing, or no commit yet
            return CodeVersion()
        status = _git(base, "status", "--porcelain", "--untracked-files=normal")
        remote = _git(base, "config", "--get", "remote.origin.url")
        branch = _git(base, "symbolic-ref", "--quiet", "--short", "HEAD")  # None if detached
        return CodeVersion(
            commit=commit,
            dirty=None if status is None else bool(status),
            remote=strip_credentials(remote) if remote else None,
            branch=(branch or "")[:256] or None,  # the column's size on every backend
        )
    except Exception:  # capture is best effort; see the module docstring
        return CodeVersion()


@dataclass(frozen=True)
class CapturedEnvironment:
    """The software environment of a run, before its files are stored as blobs."""

    python_version: str
    platform: str
    packages: tuple[str, ...]  # sorted `name==version`, one per distribution
    files: tuple[tuple[str, Path], ...]  # (name relative to the project root, absolute path)

    def packages_text(self) -> bytes:
        """The package list as a requirements-style file, one `name==version` a line."""
        return ("\n".join(self.packages) + "\n").encode("utf-8")


def normalise_package_name(name: str) -> str:
    """PEP 503 normalisation: `Scikit_Learn` and `scikit.learn` are `scikit-learn`."""
    return _NAME_SEPARATORS.sub("-", name).lower()


@functools.cache
def installed_packages() -> tuple[str, ...]:
    """Sorted `name==version` of every installed distribution.

    Cached per process: listing distributions costs tens of milliseconds and registration
    is on the hot path; packages installed after the first call are not seen. When a name
    is installed twice on sys.path the first one wins, as it does for imports.
    """
    versions: dict[str, str] = {}
    try:
        for dist in importlib.metadata.distributions():
            name, version = _name_and_version(dist)
            if name and version:
                versions.setdefault(normalise_package_name(name), version)
    except Exception:  # a broken .dist-info must not fail the run
        pass
    return tuple(sorted(f"{name}=={version}" for name, version in versions.items()))


def _name_and_version(dist: importlib.metadata.Distribution) -> tuple[str | None, str | None]:
    """A distribution's Name and Version, read from the top of its metadata file.

    `dist.metadata` parses the whole file (the long description too) with the email
    parser, and `dist.version` parses it again: ~1 ms a distribution, most of a run's first
    call in an environment of a few hundred packages. Name and Version are single-line
    headers before the first blank line; anything unusual falls back on the parser."""
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO")
    name = version = None
    for line in (text or "").split("\n\n", 1)[0].splitlines():
        if not line:
            break  # the end of the headers
        field, separator, value = line.partition(":")
        if separator:
            field = field.lower()
            if field == "name" and name is None:
                name = value.strip()
            elif field == "version" and version is None:
                version = value.strip()
        if name and version:
            return name, version
    return dist.metadata.get("Name"), dist.version


def environment_files(root: Path) -> tuple[tuple[str, Path], ...]:
    """Environment files directly in `root`, sorted by name (not cached: they change)."""
    root = root.resolve()
    try:
        with os.scandir(root) as entries:
            names = [
                entry.name
                for entry in entries
                if any(fnmatch.fnmatchcase(entry.name, p) for p in ENVIRONMENT_FILE_PATTERNS)
                and entry.is_file()
            ]
    except OSError:
        return ()
    return tuple((name, root / name) for name in sorted(names))


def capture_environment(start: Path | None = None) -> CapturedEnvironment:
    """Python, platform, installed packages and the environment files at the project root
    of `start` (default: the working directory)."""
    try:
        files = environment_files(find_project_root(start))
    except Exception:  # best effort, like capture_code
        files = ()
    return CapturedEnvironment(
        python_version=platform.python_version(),
        platform=platform.platform()[:256],
        packages=installed_packages(),
        files=files,
    )


# Capturing costs five git processes (~20 ms). Runs started within a few seconds of each
# other in one process share a capture: code does not change faster than that in practice,
# and a training loop that starts many short runs should not pay it each time.
CAPTURE_MAX_AGE_SECONDS = 5.0
_recent_captures: dict[Path | None, tuple[float, CodeVersion, CapturedEnvironment]] = {}


def capture_software(
    start: Path | None = None, max_age: float = CAPTURE_MAX_AGE_SECONDS
) -> tuple[CodeVersion, CapturedEnvironment]:
    """`capture_code` and `capture_environment` together, reused for `max_age` seconds."""
    code, captured, _ = capture_software_with(lambda _: None, start, max_age)
    return code, captured


def capture_software_with(
    work: Callable[[CapturedEnvironment], T],
    start: Path | None = None,
    max_age: float = CAPTURE_MAX_AGE_SECONDS,
) -> tuple[CodeVersion, CapturedEnvironment, T]:
    """`capture_software`, and `work(captured)`'s result: `work` (storing the package list
    and files as blobs, with their fsyncs) runs while git is still running."""
    key = _start_directory(start)
    now = time.monotonic()
    cached = _recent_captures.get(key)
    if cached is not None and now - cached[0] <= max_age:
        return cached[1], cached[2], work(cached[2])
    # git runs in its own processes: waited on in a thread while this one lists the
    # installed packages and does `work`, so a run's first call pays the longer of the
    # two, not both.
    outcome: list[CodeVersion | BaseException] = []

    def run_git() -> None:
        try:
            outcome.append(capture_code(start))
        except BaseException as exc:  # raised in the caller's thread below, as before
            outcome.append(exc)

    git = threading.Thread(target=run_git, daemon=True)
    git.start()
    try:
        captured = capture_environment(start)
        done = work(captured)
    finally:
        git.join()
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    code = outcome[0]
    _recent_captures[key] = (now, code, captured)
    return code, captured, done
