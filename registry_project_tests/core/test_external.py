"""Records of a training that ran in another process: its artifact and environment are
blobs it wrote itself; the registry records rows only over bytes that are really there."""

from __future__ import annotations

import pytest
from sklearn.linear_model import LogisticRegression

from registry_project import ModelRegistry
from registry_project.core.errors import IntegrityCheckError, InvalidInputError
from registry_project.core.external import (
    StoredArtifact,
    StoredSoftware,
    store_model,
    store_software,
)


def _model() -> LogisticRegression:
    return LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])


def test_a_stored_artifact_registers_with_the_software_of_where_it_ran(
    registry: ModelRegistry,
) -> None:
    artifact = StoredArtifact.from_json(store_model(registry.blobs, _model()).to_json())
    software = StoredSoftware.from_json(store_software(registry.blobs).to_json())
    with registry.start_run("external", software=software) as run:
        version = registry.register_artifact("ext", artifact, run=run, metrics={"auc": 0.9})
    assert version.artifact_digest == artifact.digest and version.flavor == "joblib"
    assert registry.load_model(version).predict([[3.0]])[0] == 1
    lineage = registry.lineage(version)
    assert lineage.environment is not None
    assert lineage.environment.packages_digest == software.packages_digest


def test_a_missing_or_different_blob_records_nothing(registry: ModelRegistry) -> None:
    real = store_model(registry.blobs, _model())
    absent = StoredArtifact("0" * 64, real.size, real.flavor)
    with pytest.raises(IntegrityCheckError, match="is missing"):
        registry.register_artifact("ext", absent)
    wrong_size = StoredArtifact(real.digest, real.size + 1, real.flavor)
    with pytest.raises(IntegrityCheckError, match="not the"):
        registry.register_artifact("ext", wrong_size)
    assert registry.models() == []


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"digest": "x" * 64, "size": 1, "flavor": "joblib"}, "invalid blob digest"),
        ({"digest": "a" * 64, "size": -1, "flavor": "joblib"}, "non-negative integer"),
        ({"digest": "a" * 64, "size": 1}, "missing flavor"),
        ("not a record", "must be a JSON object"),
    ],
)
def test_a_malformed_report_is_refused_clearly(payload: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        StoredArtifact.from_json(payload)
