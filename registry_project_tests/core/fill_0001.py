"""Revision 0001's registry, written by hand: rows of every kind inserted with SQLAlchemy
Core into the tables as migration 0001 created them (reflected from the database), and the
audit chain hashed as the 0001 code hashed it. Nothing here calls today's registry code,
so a database written by an old release is what test_migrations_with_data upgrades.

Blobs go through today's blob store: its layout is not part of the database schema.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from registry_project.core.blobs import open_blob_store

# Rows by table; each row a mapping of column name to the value as the database holds it.
Rows = dict[str, list[dict[str, Any]]]

GENESIS_HASH = "0" * 64


def _hash_0001(values: dict[str, Any]) -> str:
    """The audit hash as revision 0001's code computed it, frozen here on purpose: if the
    code ever hashes differently, old chains must still verify (or a migration must say
    how they are rewritten)."""
    body = json.dumps(
        [
            values["seq"],
            values["event_id"],
            values["at"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            values["actor"],
            values["action"],
            values["subject_type"],
            values["subject_id"],
            values["model_name"],
            values["dataset_name"],
            values["before_json"],
            values["after_json"],
            values["reason"],
            values["prev_hash"],
        ],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


@dataclass
class Era0001Writer:
    """Inserts rows into the 0001 tables and remembers exactly what it wrote."""

    connection: sa.Connection
    tables: dict[str, sa.Table]
    store: Any  # the blob store
    rows: Rows = field(default_factory=dict)
    seq: int = 0
    tip: str = GENESIS_HASH
    clock: datetime = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        self.clock += timedelta(minutes=3, microseconds=123_457)
        return self.clock

    def stored(self, value: datetime | None) -> datetime | None:
        """A datetime as the column holds it: naive UTC on SQLite, aware on PostgreSQL."""
        if value is None or self.connection.dialect.name != "sqlite":
            return value
        return value.astimezone(UTC).replace(tzinfo=None)

    def insert(self, table: str, **values: Any) -> dict[str, Any]:
        """Give every column, except a generated key (stage_transitions.id): as the 0001
        code did, let the database number it (on PostgreSQL that advances the sequence)."""
        target = self.tables[table]
        generated = {"id"} if table == "stage_transitions" else set()
        columns = set(target.columns.keys())
        assert set(values) | generated == columns, f"{table}: {columns ^ set(values)}"
        row = {k: self.stored(v) if isinstance(v, datetime) else v for k, v in values.items()}
        result = self.connection.execute(target.insert().values(row))
        for name in generated - set(values):
            row[name] = result.inserted_primary_key._mapping[name]
        self.rows.setdefault(table, []).append(row)
        return row

    def update(self, table: str, where: dict[str, Any], **values: Any) -> None:
        clean = {k: self.stored(v) if isinstance(v, datetime) else v for k, v in values.items()}
        target = self.tables[table]
        condition = sa.and_(*(target.c[k] == v for k, v in where.items()))
        assert self.connection.execute(target.update().where(condition).values(clean)).rowcount
        for row in self.rows.get(table, []):
            if all(row[k] == v for k, v in where.items()):
                row.update(clean)

    def event(
        self,
        actor: str,
        action: str,
        subject_type: str,
        subject_id: str,
        *,
        model_name: str | None = None,
        dataset_name: str | None = None,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        reason: str | None = None,
        at: datetime | None = None,
    ) -> None:
        self.seq += 1
        values: dict[str, Any] = {
            "seq": self.seq,
            "event_id": str(uuid.uuid4()),
            "at": at or self.now(),
            "actor": actor,
            "action": action,
            "subject_type": subject_type,
            "subject_id": subject_id,
            "model_name": model_name,
            "dataset_name": dataset_name,
            "before_json": None if before is None else _json(before),
            "after_json": None if after is None else _json(after),
            "reason": reason,
            "prev_hash": self.tip,
        }
        values["hash"] = _hash_0001(values)
        self.tip = values["hash"]
        self.insert("audit_events", **values)

    def blob(self, data: bytes) -> tuple[str, int]:
        info = self.store.put_bytes(data)
        return info.digest, info.size

    # Life-cycle steps, each the rows and the audit event the 0001 code wrote for it.

    def snapshot(self, name: str, frame: pd.DataFrame, by: str) -> str:
        buffer = io.BytesIO()
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer)
        digest, size = self.blob(buffer.getvalue())
        dataset_id = str(uuid.uuid4())
        columns = [[column, str(frame[column].dtype)] for column in frame.columns]
        self.insert(
            "datasets",
            id=dataset_id,
            name=name,
            kind="snapshot",
            digest=digest,
            uri=self.store.uri_for(digest),
            version_id=None,
            etag=None,
            size_bytes=size,
            row_count=len(frame),
            columns_json=_json(columns),
            created_at=self.now(),
            created_by=by,
            expires_at=datetime(2027, 6, 1, tzinfo=UTC) if name == "holdout" else None,
            dagster_run_id="dagster-run-1" if name == "customers" else None,
            asset_key="customers" if name == "customers" else None,
            deleted_at=None,
            deleted_by=None,
            deletion_reason=None,
        )
        self.event(
            by,
            "snapshot_dataset",
            "dataset",
            dataset_id,
            dataset_name=name,
            after={"digest": digest, "rows": len(frame), "size_bytes": size},
        )
        return dataset_id

    def reference(self, name: str, uri: str, by: str) -> str:
        dataset_id = str(uuid.uuid4())
        self.insert(
            "datasets",
            id=dataset_id,
            name=name,
            kind="reference",
            digest=None,
            uri=uri,
            version_id="3HL4kqtJlcpXroDTDmJ",
            etag="9b2cf535f27731c974343645a3985328",
            size_bytes=None,
            row_count=None,
            columns_json="[]",
            created_at=self.now(),
            created_by=by,
            expires_at=None,
            dagster_run_id=None,
            asset_key=None,
            deleted_at=None,
            deleted_by=None,
            deletion_reason=None,
        )
        self.event(
            by,
            "reference_dataset",
            "dataset",
            dataset_id,
            dataset_name=name,
            after={
                "uri": uri,
                "version_id": "3HL4kqtJlcpXroDTDmJ",
                "etag": "9b2cf5",
                "digest": None,
            },
        )
        return dataset_id

    def run(
        self,
        name: str,
        by: str,
        params: dict[str, Any],
        inputs: list[tuple[str, str]],
        metrics: dict[str, float],
        error: str | None = None,
    ) -> str:
        run_id = str(uuid.uuid4())
        packages, _ = self.blob(b"numpy==2.1.0\npandas==2.2.3\n")
        requirements, requirements_size = self.blob(f"# {name}\nscikit-learn\n".encode())
        started = self.now()
        self.insert(
            "runs",
            id=run_id,
            name=name,
            status="running",
            params_json=_json(params),
            started_at=started,
            ended_at=None,
            created_by=by,
            error=None,
            dagster_run_id="dagster-run-2",
            asset_key="churn/candidate",
            code_commit="4f1c2e9a0b7d3c5e6f8a9b0c1d2e3f4a5b6c7d8e",
            code_dirty=error is not None,
            code_remote="https://git.example.com/ml/churn.git",
            code_branch="main",
            python_version="3.11.7",
            platform="Linux-6.1-x86_64",
            packages_digest=packages,
            package_count=2,
        )
        for dataset_id, role in inputs:
            self.insert("run_inputs", run_id=run_id, dataset_id=dataset_id, role=role)
        self.insert(
            "run_environment_files",
            run_id=run_id,
            path="requirements.txt",
            digest=requirements,
            size_bytes=requirements_size,
        )
        self.event(by, "start_run", "run", run_id, after={"name": name, "params": params})
        for key, value in metrics.items():
            self.insert("run_metrics", run_id=run_id, key=key, value=value, logged_at=self.now())
        status = "failed" if error else "finished"
        self.update("runs", {"id": run_id}, status=status, ended_at=self.now(), error=error)
        self.event(by, "end_run", "run", run_id, after={"status": status, "error": error})
        return run_id

    def register(
        self,
        model: str,
        artifact: object,
        by: str,
        run_id: str | None,
        metrics: dict[str, float],
        trained_on_deleted_data: bool = False,
    ) -> str:
        if not any(row["name"] == model for row in self.rows.get("models", [])):
            self.insert(
                "models",
                name=model,
                created_at=self.now(),
                created_by=by,
                last_version=0,
                description=f"the {model} model",
            )
        [counter] = [row["last_version"] for row in self.rows["models"] if row["name"] == model]
        number = counter + 1
        self.update("models", {"name": model}, last_version=number)
        digest, size = self.blob(pickle.dumps(artifact, protocol=5))
        version_id = str(uuid.uuid4())
        at = self.now()
        self.insert(
            "model_versions",
            id=version_id,
            model_name=model,
            version=number,
            stage="experiment",
            flavor="pickle",
            python_class="builtins.dict",
            artifact_digest=digest,
            artifact_size=size,
            signature_json=_json([["x", "int64"], ["y", "float64"]]),
            run_id=run_id,
            created_at=at,
            created_by=by,
            stage_changed_at=at,
            description=None,
            trained_on_deleted_data=trained_on_deleted_data,
            dagster_run_id="dagster-run-2" if run_id else None,
            asset_key="churn/candidate" if run_id else None,
        )
        self.insert(
            "stage_transitions",
            version_id=version_id,
            model_name=model,
            version=number,
            from_stage=None,
            to_stage="experiment",
            actor=by,
            reason=None,
            at=at,
        )
        self.log_metrics(version_id, metrics, dataset_id="", by=by, audited=False)
        self.event(
            by,
            "register_model",
            "model_version",
            version_id,
            model_name=model,
            after={"version": number, "stage": "experiment", "digest": digest, "metrics": metrics},
            at=at,
        )
        return version_id

    def log_metrics(
        self,
        version_id: str,
        metrics: dict[str, float],
        *,
        dataset_id: str,
        by: str,
        audited: bool = True,
    ) -> None:
        model = self._version(version_id)["model_name"]
        at = self.now()
        latest = self.rows.setdefault("version_metric_latest", [])
        for key, value in metrics.items():
            self.insert(
                "version_metrics",
                version_id=version_id,
                key=key,
                dataset_id=dataset_id,
                value=value,
                logged_at=at,
                logged_by=by,
            )
            if any(r["version_id"] == version_id and r["key"] == key for r in latest):
                self.update(
                    "version_metric_latest", {"version_id": version_id, "key": key}, value=value
                )
            else:
                self.insert(
                    "version_metric_latest",
                    version_id=version_id,
                    key=key,
                    model_name=model,
                    value=value,
                )
        if audited:
            self.event(
                by,
                "log_metrics",
                "model_version",
                version_id,
                model_name=model,
                after={"metrics": metrics, "dataset_id": dataset_id or None},
            )

    def move(self, version_id: str, to: str, by: str, reason: str | None, action: str) -> None:
        version = self._version(version_id)
        at = self.now()
        self.insert(
            "stage_transitions",
            version_id=version_id,
            model_name=version["model_name"],
            version=version["version"],
            from_stage=version["stage"],
            to_stage=to,
            actor=by,
            reason=reason,
            at=at,
        )
        self.event(
            by,
            action,
            "model_version",
            version_id,
            model_name=version["model_name"],
            before={"stage": version["stage"], "version": version["version"]},
            after={"stage": to, "version": version["version"]},
            reason=reason,
            at=at,
        )
        self.update("model_versions", {"id": version_id}, stage=to, stage_changed_at=at)

    def promote(self, version_id: str, by: str, reason: str, action: str = "promote") -> None:
        model = self._version(version_id)["model_name"]
        for row in self.rows["model_versions"]:
            if row["model_name"] == model and row["stage"] == "production":
                self.move(row["id"], "archived", by, reason, f"{action}:archive_previous")
        self.move(version_id, "production", by, reason, action)

    def approve(self, version_id: str, by: str, reason: str) -> None:
        version = self._version(version_id)
        self.insert("approvals", version_id=version_id, actor=by, reason=reason, at=self.now())
        self.event(
            by,
            "approve",
            "model_version",
            version_id,
            model_name=version["model_name"],
            after={"version": version["version"], "approved_by": by},
            reason=reason,
        )

    def delete_dataset(self, dataset_id: str, by: str, reason: str) -> None:
        [dataset] = [row for row in self.rows["datasets"] if row["id"] == dataset_id]
        self.store.delete(dataset["digest"])
        self.update(
            "datasets",
            {"id": dataset_id},
            deleted_at=self.now(),
            deleted_by=by,
            deletion_reason=reason,
        )
        self.event(
            by,
            "delete_dataset",
            "dataset",
            dataset_id,
            dataset_name=dataset["name"],
            before={"digest": dataset["digest"], "rows": dataset["row_count"]},
            after={"deleted": True, "forced": True},
            reason=reason,
        )

    def finish(self) -> None:
        self.update("audit_head", {"id": 1}, seq=self.seq, hash=self.tip)

    def _version(self, version_id: str) -> dict[str, Any]:
        [row] = [row for row in self.rows["model_versions"] if row["id"] == version_id]
        return row


def reflect(connection: sa.Connection) -> dict[str, sa.Table]:
    metadata = sa.MetaData()
    metadata.reflect(connection)
    return {name: table for name, table in metadata.tables.items() if name != "alembic_version"}


def fill(engine: sa.Engine, artifact_root: str) -> tuple[Rows, dict[str, str], pd.DataFrame]:
    store = open_blob_store(artifact_root)
    customers = pd.DataFrame({"x": range(20), "y": [0.25 * (i % 4) for i in range(20)]})
    with engine.begin() as connection:
        tables = reflect(connection)
        [head] = [dict(row._mapping) for row in connection.execute(sa.select(tables["audit_head"]))]
        era = Era0001Writer(connection, tables, store, rows={"audit_head": [head]})
        ids: dict[str, str] = {}
        ids["customers"] = era.snapshot("customers", customers, by="dana")
        ids["holdout"] = era.snapshot("holdout", customers.head(8), by="dana")
        ids["scratch"] = era.snapshot("scratch", pd.DataFrame({"x": [7, 8]}), by="dana")
        ids["events"] = era.reference("events", "s3://lake/events.parquet", by="dana")
        train = [(ids["customers"], "train"), (ids["holdout"], "test")]
        ids["run"] = era.run(
            "churn-training", "carol", {"C": 1.0, "grid": [1, 2]}, train, {"loss": 0.25}
        )
        ids["failed_run"] = era.run(
            "churn-training",
            "carol",
            {"C": 100.0},
            train,
            {},
            error="Traceback (most recent call last):\nValueError: did not converge",
        )
        ids["scratch_run"] = era.run("fraud-training", "erin", {}, [(ids["scratch"], "train")], {})
        ids["churn/1"] = era.register("churn", {"w": 1}, "carol", ids["run"], {"auc": 0.75})
        ids["churn/2"] = era.register("churn", {"w": 2}, "carol", ids["run"], {"auc": 0.8125})
        ids["churn/3"] = era.register("churn", {"w": 3}, "carol", None, {"auc": 0.875})
        era.log_metrics(
            ids["churn/2"], {"auc": 0.828125, "log_loss": 0.5}, dataset_id=ids["holdout"], by="eval"
        )
        era.log_metrics(ids["churn/3"], {"auc": 0.890625}, dataset_id=ids["holdout"], by="eval")
        ids["fraud/1"] = era.register(
            "fraud", {"r": 1}, "erin", ids["scratch_run"], {"recall": 0.5}
        )
        ids["fraud/2"] = era.register("fraud", {"r": 2}, "erin", None, {"recall": 0.625})
        era.promote(ids["churn/1"], "alice", "baseline")
        era.promote(ids["churn/2"], "alice", "auc 0.83 > 0.75")
        era.promote(ids["churn/1"], "alice", "incident 42", action="rollback")
        era.promote(ids["churn/2"], "alice", "incident 42 resolved")
        era.move(ids["churn/3"], "staging", "ci", "passed checks", "transition")
        era.approve(ids["churn/3"], "bob", "reviewed the evaluation")
        era.move(ids["fraud/2"], "archived", "erin", "superseded", "transition")
        era.delete_dataset(ids["scratch"], "dpo", "GDPR request 17")
        era.update("model_versions", {"id": ids["fraud/1"]}, trained_on_deleted_data=True)
        era.finish()
    return era.rows, ids, customers
