"""Step 1, the Dagster project you already have: one asset that loads the data."""

import dagster as dg
import pandas as pd
from sklearn.datasets import load_breast_cancer

LABEL = "benign"  # scikit-learn's target: 1 benign, 0 malignant


@dg.asset(group_name="cancer", kinds={"pandas"})
def breast_cancer() -> pd.DataFrame:
    """569 tumours described by 30 measurements each, with their diagnosis."""
    frame = load_breast_cancer(as_frame=True).frame
    return frame.rename(columns={"target": LABEL})
