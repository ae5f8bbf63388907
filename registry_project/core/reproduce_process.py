"""Training at the recorded commit in a child process, so the code that trains is the
recorded code: the child's `sys.path` starts at the commit's temporary worktree (and every
path of this process inside the working tree is replaced by its twin in the worktree),
the training function is imported there by name, and the artifact it returns is written
by its flavor to a file this process hashes.

The training function travels by name: a `"module:function"` string, or anything pickle
sends by reference (a module-level function, an instance of a module-level class whose
fields do). A lambda or a function defined inside another cannot be imported from a
commit and is refused.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from registry_project.core import flavors
from registry_project.core.entities import ModelVersion
from registry_project.core.errors import ReproductionFailedError, ReproductionRefusedError

# Runs in the child (`python -c`): stdlib first, then the payload (whose unpickling imports
# the training function from the worktree), then the registry's own modules from the same
# sys.path, so an old commit's registry is used when the worktree is the registry itself.
_CHILD = """
import inspect, json, pickle, sys
from pathlib import Path
payload_path, search_path = sys.argv[1], json.loads(sys.argv[2])
sys.path[:] = search_path
with open(payload_path, "rb") as stream:
    payload = pickle.load(stream)
train = payload["train"]
if isinstance(train, str):
    import importlib
    module_name, _, name = train.partition(":")
    train = getattr(importlib.import_module(module_name), name)
from registry_project.core import flavors
from registry_project.core.reproduce import ReproductionInputs
tree = Path(payload["tree"])
inputs = ReproductionInputs(payload["version"], payload["params"], payload["datasets"], tree)
model = train(inputs)
with open(payload["artifact"], "wb") as out:
    flavors.get_flavor(payload["flavor"]).save(model, out)
try:
    origin = inspect.getsourcefile(inspect.unwrap(train)) or ""
except TypeError:
    origin = inspect.getsourcefile(type(train)) or ""
with open(payload["origin"], "w") as out:
    json.dump({"origin": str(Path(origin).resolve()) if origin else ""}, out)
"""


@dataclass(frozen=True)
class ChildTraining:
    """What the child trained: the artifact's bytes (as the flavor wrote them) and the
    file the training function came from (inside the worktree, or not)."""

    artifact: bytes
    origin: str
    from_commit: bool  # the training function's file is in the recorded commit's tree


def describe(train: object) -> str:
    """How a training function is named in a refusal: `module:function` or its repr."""
    if isinstance(train, str):
        return train
    module = getattr(train, "__module__", None)
    name = getattr(train, "__qualname__", None)
    return f"{module}:{name}" if module and name else repr(train)


def child_search_path(tree: Path, root: Path) -> list[str]:
    """This process's `sys.path` with the worktree first and every entry inside the working
    tree `root` replaced by the same place in the worktree (a `src/` layout keeps working)."""
    resolved_root = root.resolve()
    found = [str(tree)]
    for entry in sys.path:
        place = Path(entry or os.getcwd()).resolve()
        if place == resolved_root or place.is_relative_to(resolved_root):
            twin = tree / place.relative_to(resolved_root)
            if not twin.exists():
                continue
            place = twin
        if str(place) not in found:
            found.append(str(place))
    return found


def train_at_commit(
    train: object,
    *,
    version: ModelVersion,
    params: Mapping[str, Any],
    datasets: Mapping[str, Any],
    tree: Path,
    root: Path,
    commit: str,
) -> ChildTraining:
    """Run `train` in a child process whose code is the worktree `tree` of `commit`."""
    with tempfile.TemporaryDirectory(prefix="registry-reproduce-run-") as scratch:
        folder = Path(scratch)
        payload = {
            "train": train,
            "version": version,
            "params": dict(params),
            "datasets": dict(datasets),
            "tree": str(tree),
            "flavor": version.flavor,
            "artifact": str(folder / "artifact"),
            "origin": str(folder / "origin.json"),
        }
        try:
            data = _dumps(payload)
        except (pickle.PicklingError, AttributeError, TypeError) as exc:
            raise ReproductionRefusedError(
                f"cannot reproduce {version.ref} at commit {commit[:12]}: the training "
                f"function {describe(train)} cannot be imported by name ({exc}). Pass a "
                "module-level function or 'module:function', so the recorded commit's code "
                "is the code that trains."
            ) from None
        (folder / "payload.pickle").write_bytes(data)
        command = [
            sys.executable,
            "-c",
            _CHILD,
            str(folder / "payload.pickle"),
            json.dumps(child_search_path(tree, root)),
        ]
        # No timeout: a training may take hours; stdin closed so it can never wait on us.
        done = subprocess.run(
            command,
            cwd=tree,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            # The exception's own line: the child's traceback is the training's business.
            lines = done.stderr.strip().splitlines()
            raise ReproductionFailedError(
                f"training {version.ref} with {describe(train)} at commit {commit[:12]} "
                f"failed (exit {done.returncode}): {lines[-1] if lines else 'no message'}. "
                "Nothing was recorded."
            )
        origin = json.loads((folder / "origin.json").read_text())["origin"]
        from_commit = bool(origin) and Path(origin).is_relative_to(tree.resolve())
        return ChildTraining((folder / "artifact").read_bytes(), origin, from_commit)


class _Pickler(pickle.Pickler):
    """Frozen mappings (a version's tags, nested params) travel as plain dicts: the type
    of a mapping proxy cannot be pickled."""

    def reducer_override(self, obj: object) -> Any:
        if isinstance(obj, MappingProxyType):
            return dict, (dict(obj),)
        return NotImplemented


def _dumps(payload: object) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(payload)
    return buffer.getvalue()


def load_artifact(version: ModelVersion, artifact: bytes) -> object:
    """The child's model back in this process (to evaluate it when not bit-identical)."""
    return flavors.get_flavor(version.flavor).load(io.BytesIO(artifact))
