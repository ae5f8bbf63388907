"""Autologging a scikit-learn pipeline: opt-in on the run, one explicit call, nothing
patched in scikit-learn."""

from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from registry_project import ModelRegistry


def train_with_autolog(reg: ModelRegistry) -> str:
    """Fit a scaled logistic regression; the run records its params (`logisticregression__C`,
    ...), training and validation scores, coefficients by feature name, the input
    signature and a confusion matrix. Returns the run's id."""
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X_train, X_val, y_train, y_val = train_test_split(X, y, random_state=0)
    with reg.start_run("cancer-logistic", experiment="cancer-autolog", autolog=True) as run:
        model = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=1000))
        model.fit(X_train, y_train)
        run.autolog_estimator(model, X_train, y_train, X_val, y_val)
        reg.register_model("cancer", model, run=run, signature=X_train.head())
    return run.id
