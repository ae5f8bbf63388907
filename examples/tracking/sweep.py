"""A small sweep tracked in the registry: every trial a run, the best one registered."""

from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from registry_project import ModelRegistry


def sweep(reg: ModelRegistry, alphas: list[float], epochs: int = 20) -> str:
    """Train one model per alpha, logging a loss curve and a table per trial; register
    the trial with the best validation AUC. Returns that run's id."""
    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    X_train, X_val, y_train, y_val = train_test_split(X, y, random_state=0)
    for alpha in alphas:
        with reg.start_run(
            f"sgd-alpha-{alpha}",
            experiment="cancer-sweep",
            params={"alpha": alpha, "epochs": epochs},
            tags={"team": "risk"},
        ) as run:
            model = SGDClassifier(loss="log_loss", alpha=alpha, random_state=0)
            for epoch in range(epochs):
                model.partial_fit(X_train, y_train, classes=[0, 1])
                loss = 1.0 - model.score(X_train, y_train)
                run.log_metric("train_error", loss, step=epoch)  # buffered, written in batches
            auc = roc_auc_score(y_val, model.decision_function(X_val))
            run.log_metric("val_auc", auc)
            run.log_artifact(f"alpha,val_auc\n{alpha},{auc}\n".encode(), name="summary.csv")
            run.log_model(model, name="model")  # registered later only if it is the best

    best = reg.runs(
        "cancer-sweep",
        filter="metrics.val_auc > 0.9 and status = 'FINISHED'",
        order_by="-metrics.val_auc",
        limit=1,
    )[0]
    reg.register_model("cancer", run=best.id, artifact="model")  # "register the best trial"
    return best.id
