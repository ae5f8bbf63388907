"""The README's "Experiment tracking" example (examples/tracking/sweep.py) runs on a real
registry: runs listed and compared, the loss curve read back, the best trial registered."""

from pathlib import Path

from examples.tracking.sweep import sweep
from registry_project import ModelRegistry


def test_the_sweep_tracks_every_trial_and_registers_the_best(tmp_path: Path) -> None:
    with ModelRegistry.open(f"sqlite:///{tmp_path / 'r.db'}", str(tmp_path / "a")) as reg:
        best_id = sweep(reg, [0.0001, 0.01, 1.0], epochs=5)
        trials = reg.runs("cancer-sweep", order_by="-metrics.val_auc")
        assert len(trials) == 3 and trials[0].id == best_id
        assert trials[0].metrics["val_auc"] >= trials[-1].metrics["val_auc"]
        curve = reg.metric_history(best_id, "train_error").to_frame()
        assert curve["step"].tolist() == list(range(5))
        assert reg.compare_runs([t.id for t in trials]).to_frame().loc["param.alpha"].tolist() == [
            t.params["alpha"] for t in trials
        ]
        [version] = reg.versions("cancer")
        assert version.run_id == best_id
        model = reg.load_model("cancer/1")
        assert type(model).__name__ == "SGDClassifier"
        assert [a.name for a in reg.run_artifacts(best_id)] == ["model", "summary.csv"]
