"""`ModelRegistry.model_summaries`: what `registry models` and the UI's front page show,
read in a fixed number of queries however many models there are."""

from __future__ import annotations

import sqlalchemy as sa

from registry_project import ModelRegistry


def _statements(registry: ModelRegistry) -> list[str]:
    seen: list[str] = []
    sa.event.listen(registry.engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    registry.model_summaries()
    return seen


def test_each_summary_is_what_the_lookups_answer(registry: ModelRegistry) -> None:
    registry.register_model("churn", 1, metrics={"auc": 0.5, "f1": 0.25})
    registry.register_model("churn", 2, metrics={"auc": 0.75})
    registry.promote("churn/1", actor="alice", reason="first")
    registry.register_model("fraud", 3, metrics={"recall": 0.5})
    registry.log_metrics("fraud/1", {"recall": 0.625})
    churn, fraud = registry.model_summaries()

    assert churn.model == registry.models()[0]
    assert churn.production == registry.get_version("churn@production")
    assert churn.latest == registry.get_version("churn@latest")
    assert churn.shown is churn.production and churn.key_metric() == "auc"
    assert churn.key_metric("f1") == "f1" and churn.key_metric("recall") is None
    assert churn.last_changed == max(v.stage_changed_at for v in registry.versions("churn"))

    assert fraud.production is None
    assert fraud.latest == registry.get_version("fraud/1")  # with its newest metric
    assert dict(fraud.shown.metrics) == {"recall": 0.625}


def test_the_queries_do_not_grow_with_the_number_of_models(registry: ModelRegistry) -> None:
    registry.register_model("m0", 0, metrics={"auc": 0.5})
    one = len(_statements(registry))
    for index in range(1, 6):
        registry.register_model(f"m{index}", index, metrics={"auc": 0.5})
        registry.promote(f"m{index}/1", actor="alice", reason="first")
    assert len(_statements(registry)) == one
