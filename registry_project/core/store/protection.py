"""Each model's protection rule (migration 0005): at most one row per model."""

from __future__ import annotations

import json

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from registry_project.core.entities import ProtectionRule, Stage
from registry_project.core.store.schema import protection_rules


def fetch_rule(connection: Connection, model_name: str) -> ProtectionRule:
    """The stored rule, or `ProtectionRule.none(model_name)` when none was ever set."""
    row = connection.execute(
        sa.select(protection_rules).where(protection_rules.c.model_name == model_name)
    ).first()
    if row is None:
        return ProtectionRule.none(model_name)
    return ProtectionRule(
        model_name=row.model_name,
        require_approval=bool(row.require_approval),
        min_approvals=row.min_approvals,
        protected_stages=tuple(Stage(s) for s in json.loads(row.protected_stages_json)),
        protected_aliases=tuple(json.loads(row.protected_aliases_json)),
        updated_at=row.updated_at,
        updated_by=row.updated_by,
        reason=row.reason,
    )


def save_rule(connection: Connection, rule: ProtectionRule) -> None:
    values = {
        "require_approval": rule.require_approval,
        "min_approvals": rule.min_approvals,
        "protected_stages_json": json.dumps([s.value for s in rule.protected_stages]),
        "protected_aliases_json": json.dumps(list(rule.protected_aliases)),
        "updated_at": rule.updated_at,
        "updated_by": rule.updated_by,
        "reason": rule.reason,
    }
    updated = connection.execute(
        protection_rules.update()
        .where(protection_rules.c.model_name == rule.model_name)
        .values(values)
    )
    if updated.rowcount == 0:
        connection.execute(protection_rules.insert().values(model_name=rule.model_name, **values))
