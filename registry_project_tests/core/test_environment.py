"""Code and environment capture: real git repositories, credentials stripped, never fails."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
from pathlib import Path

import pytest

from registry_project.core import environment


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        [
            "git",
            "-C",
            str(repo),
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "commit.gpgsign=false",
            *args,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git work tree with one commit on branch `main`."""
    root = tmp_path / "project"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "train.py").write_text("print('train')\n")
    git(root, "add", "train.py")
    git(root, "commit", "-qm", "first")
    return root


@pytest.fixture
def not_a_repo(tmp_path: Path) -> Path:
    plain = tmp_path / "plain"
    plain.mkdir()
    assert subprocess.run(
        ["git", "-C", str(plain), "rev-parse", "--git-dir"], capture_output=True, check=False
    ).returncode, "the temporary directory must not be inside a git work tree"
    return plain


def test_clean_work_tree(repo: Path) -> None:
    code = environment.capture_code(repo)
    assert code.commit == git(repo, "rev-parse", "HEAD")
    assert re.fullmatch(r"[0-9a-f]{40}", code.commit or "")
    assert code.branch == "main"
    assert code.dirty is False
    assert code.remote is None


def test_modified_file_makes_it_dirty(repo: Path) -> None:
    (repo / "train.py").write_text("print('changed')\n")
    assert environment.capture_code(repo).dirty is True


def test_untracked_file_makes_it_dirty(repo: Path) -> None:
    (repo / "notes.txt").write_text("new\n")
    assert environment.capture_code(repo).dirty is True


def test_capture_from_a_subdirectory_sees_the_repository(repo: Path) -> None:
    sub = repo / "src" / "pkg"
    sub.mkdir(parents=True)
    assert environment.capture_code(sub).commit == git(repo, "rev-parse", "HEAD")
    assert environment.find_project_root(sub) == repo.resolve()


def test_default_start_is_the_working_directory(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo)
    assert environment.capture_code().commit == git(repo, "rev-parse", "HEAD")
    assert environment.find_project_root() == repo.resolve()


def test_detached_head_has_no_branch(repo: Path) -> None:
    git(repo, "checkout", "-q", "--detach")
    code = environment.capture_code(repo)
    assert code.branch is None
    assert code.commit is not None


def test_remote_credentials_are_not_stored(repo: Path) -> None:
    git(repo, "remote", "add", "origin", "https://user:secret@host/x.git")
    code = environment.capture_code(repo)
    assert code.remote == "https://host/x.git"
    assert "secret" not in repr(code)


@pytest.mark.parametrize(
    ("url", "stored"),
    [
        ("https://user:secret@host/x.git", "https://host/x.git"),
        ("https://ghp_token123@github.com/o/r.git", "https://github.com/o/r.git"),
        ("HTTP://u:p@ss@host:8080/x", "HTTP://host:8080/x"),
        ("ssh://git@host/x.git", "ssh://git@host/x.git"),
        ("ssh://git:pw@host/x.git", "ssh://host/x.git"),
        ("git@github.com:o/r.git", "git@github.com:o/r.git"),
        ("https://github.com/o/r.git", "https://github.com/o/r.git"),
        ("/srv/git/r.git", "/srv/git/r.git"),
    ],
)
def test_strip_credentials(url: str, stored: str) -> None:
    assert environment.strip_credentials(url) == stored


def test_outside_git_everything_is_none(not_a_repo: Path) -> None:
    code = environment.capture_code(not_a_repo)
    assert (code.commit, code.dirty, code.remote, code.branch) == (None, None, None, None)
    assert environment.find_project_root(not_a_repo) == not_a_repo.resolve()


def test_repository_without_commits_is_like_no_repository(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    code = environment.capture_code(tmp_path)
    assert (code.commit, code.dirty, code.remote, code.branch) == (None, None, None, None)


def test_missing_git_never_raises(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(repo / "no-bin-here"))
    code = environment.capture_code(repo)
    assert (code.commit, code.dirty, code.remote, code.branch) == (None, None, None, None)
    assert environment.find_project_root(repo) == repo.resolve()
    assert environment.capture_environment(repo).python_version


def test_git_hook_variables_do_not_redirect_the_capture(
    repo: Path, not_a_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Inside a git hook GIT_DIR points at the hook's repository, not at `start`.
    monkeypatch.setenv("GIT_DIR", str(repo / ".git"))
    assert environment.capture_code(not_a_repo).commit is None


ENVIRONMENT_FILES = [
    "Dockerfile",
    "Pipfile",
    "Pipfile.lock",
    "conda.yaml",
    "environment.yml",
    "poetry.lock",
    "pyproject.toml",
    "requirements-dev.txt",
    "requirements.txt",
    "setup.cfg",
    "uv.lock",
]


def test_environment_files_at_the_project_root(repo: Path) -> None:
    for name in ENVIRONMENT_FILES:
        (repo / name).write_text(f"# {name}\n")
    for name in ["README.md", "requirements.in", "Dockerfile.old", "notes.txt"]:
        (repo / name).write_text("not an environment file\n")
    (repo / "requirements-docs.txt").mkdir()  # a directory, not a file
    (repo / "service").mkdir()
    (repo / "service" / "requirements.txt").write_text("nested: not at the root\n")

    captured = environment.capture_environment(repo / "service")
    assert [name for name, _ in captured.files] == sorted(ENVIRONMENT_FILES)
    for name, path in captured.files:
        assert path.is_absolute()
        assert path == repo.resolve() / name


def test_environment_files_are_not_cached(repo: Path) -> None:
    assert environment.capture_environment(repo).files == ()
    (repo / "requirements.txt").write_text("pandas\n")
    assert [name for name, _ in environment.capture_environment(repo).files] == ["requirements.txt"]


def test_environment_files_outside_git_come_from_the_start_directory(not_a_repo: Path) -> None:
    (not_a_repo / "environment.yaml").write_text("name: x\n")
    assert environment.capture_environment(not_a_repo).files == (
        ("environment.yaml", not_a_repo.resolve() / "environment.yaml"),
    )


def test_packages_are_sorted_normalised_and_include_pandas(not_a_repo: Path) -> None:
    captured = environment.capture_environment(not_a_repo)
    assert f"pandas=={importlib.metadata.version('pandas')}" in captured.packages
    assert f"scikit-learn=={importlib.metadata.version('scikit-learn')}" in captured.packages
    assert list(captured.packages) == sorted(captured.packages)
    names = [line.split("==", 1)[0] for line in captured.packages]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name) for name in names)


def test_package_list_reads_what_the_metadata_parser_reads() -> None:
    """Name and Version come from the top of each metadata file, not the email parser:
    the same list as the parser gives, for every installed distribution."""
    parsed: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name, version = dist.metadata.get("Name"), dist.version
        if name and version:
            parsed.setdefault(environment.normalise_package_name(name), version)
    expected = tuple(sorted(f"{name}=={version}" for name, version in parsed.items()))
    assert environment.installed_packages() == expected
    assert len(expected) > 20  # the test environment's packages, seen


def test_metadata_headers_end_at_the_first_blank_line(tmp_path: Path) -> None:
    """A `Version:` line in the long description is not the version; a file without the
    headers falls back on the parser (here: nothing)."""
    info = tmp_path / "demo-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: Demo_Pkg\nSummary: x\n\nVersion: 9.9\n",
        encoding="utf-8",
    )
    dist = importlib.metadata.PathDistribution(info)
    assert environment._name_and_version(dist) == ("Demo_Pkg", None)
    (info / "METADATA").write_text("Name: Demo\nVersion: 1.0\n", encoding="utf-8")
    assert environment._name_and_version(dist) == ("Demo", "1.0")


def test_package_list_is_computed_once_per_process(not_a_repo: Path) -> None:
    first = environment.capture_environment(not_a_repo).packages
    assert environment.capture_environment(not_a_repo).packages is first


def test_packages_text_is_one_requirement_per_line() -> None:
    captured = environment.CapturedEnvironment(
        python_version="3.11.7",
        platform="Linux",
        packages=("numpy==2.0.0", "pandas==2.2.0"),
        files=(),
    )
    assert captured.packages_text() == b"numpy==2.0.0\npandas==2.2.0\n"


def test_python_and_platform_are_recorded(not_a_repo: Path) -> None:
    import platform

    captured = environment.capture_environment(not_a_repo)
    assert captured.python_version == platform.python_version()
    assert captured.platform == platform.platform()


@pytest.mark.parametrize(
    ("name", "normalised"),
    [("Scikit_Learn", "scikit-learn"), ("zope.interface", "zope-interface"), ("A--B", "a-b")],
)
def test_package_names_are_normalised(name: str, normalised: str) -> None:
    assert environment.normalise_package_name(name) == normalised


INDEX_TOKEN = "pypi-AgEIcHlwaS5vcmcCJG"  # the shape of a PyPI upload token
REQUIREMENTS_WITH_TOKENS = f"""\
--index-url https://build:{INDEX_TOKEN}1@pypi.internal.example/simple
--extra-index-url https://__token__:{INDEX_TOKEN}2@pypi.example/simple
-i https://{INDEX_TOKEN}3@mirror.example/simple
private-lib @ git+https://{INDEX_TOKEN}4@github.com/acme/private-lib.git@v1
pandas==2.2.3
"""


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        (
            "--extra-index-url https://__token__:T0k@pypi.example/simple\n",
            "--extra-index-url https://pypi.example/simple\n",
        ),
        ('url = "https://u:T0k@host/simple"', 'url = "https://host/simple"'),
        ("git+https://T0k@github.com/o/r.git@v1", "git+https://github.com/o/r.git@v1"),
        ("ssh://git@host/x.git and ssh://git:T0k@host/y", "ssh://git@host/x.git and ssh://host/y"),
        (
            "contact bob@example.com; https://example.com/a@b",
            "contact bob@example.com; https://example.com/a@b",
        ),
    ],
)
def test_strip_credentials_in_text(text: str, stored: str) -> None:
    assert environment.strip_credentials_in_text(text) == stored


def test_index_tokens_in_captured_files_never_reach_the_blob_store(
    not_a_repo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """requirements*.txt, Pipfile and environment.yml are stored for lineage, but the
    credentials in their index URLs are not (as for git remotes)."""
    from registry_project import ModelRegistry

    (not_a_repo / "requirements.txt").write_text(REQUIREMENTS_WITH_TOKENS)
    (not_a_repo / "Pipfile").write_text(
        f'[[source]]\nurl = "https://user:{INDEX_TOKEN}5@pypi.internal.example/simple"\n'
    )
    (not_a_repo / "environment.yml").write_text(
        f"dependencies:\n  - pip:\n    - --extra-index-url https://u:{INDEX_TOKEN}6@x.example\n"
    )
    monkeypatch.chdir(not_a_repo)
    root = tmp_path / "registry"
    with ModelRegistry.open(f"sqlite:///{root / 'r.db'}", str(root / "blobs")) as reg:
        with reg.start_run("train") as run:
            pass
        files = {f.path: f for f in reg.get_run(run.id).environment.files}  # type: ignore[union-attr]
        assert set(files) == {"Pipfile", "environment.yml", "requirements.txt"}
        requirements = reg.blobs.read_bytes(files["requirements.txt"].digest).decode()
        assert "--extra-index-url https://pypi.example/simple" in requirements
        assert "git+https://github.com/acme/private-lib.git@v1" in requirements
        assert "pandas==2.2.3" in requirements
        every_blob = b"".join(reg.blobs.read_bytes(d) for d in reg.blobs.iter_digests())
    assert INDEX_TOKEN.encode() not in every_blob
    assert INDEX_TOKEN.encode() not in (root / "r.db").read_bytes()
