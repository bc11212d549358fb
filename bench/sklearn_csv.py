"""The peer of `mlscale train` on a CSV file: pandas read_csv + scikit-learn, end to end.

Reads the file with pandas' C parser, holds out the same rows mlscale holds out (the same hash of
row index and seed, re-implemented below with numpy), imputes and standardises the numeric
columns and one-hot encodes the categorical ones (what mlscale's preprocessing does), trains an
MLPClassifier (or LogisticRegression / Ridge with --model linear) and scores the held-out rows.
Prints one JSON line: the wall time of each phase and the held-out accuracy (or R²).

    python3 bench/sklearn_csv.py '{"file": "t.csv", "label": "y", "seed": 42, "holdout": 0.2,
                                    "model": "mlp", "hidden": [64], "epochs": 5, ...}'
"""
import json
import sys
import time
import warnings

import numpy as np


def fmix32(h):
    h = h.astype(np.uint32)
    h ^= h >> np.uint32(16)
    h = (h * np.uint32(0x85EBCA6B)).astype(np.uint32)
    h ^= h >> np.uint32(13)
    h = (h * np.uint32(0xC2B2AE35)).astype(np.uint32)
    h ^= h >> np.uint32(16)
    return h


def held_out(rows, seed, fraction):
    """mlscale's src/data/split.ts: hashRow(row, seed, 'splt') / 2^32 < fraction (rows < 2^32)."""
    salt = np.uint32(0x73706C74)
    key = fmix32(fmix32(fmix32(np.array([salt ^ np.uint32(0)], dtype=np.uint32)) ^ np.uint32(seed)) ^ np.uint32(0))[0]
    index = np.arange(rows, dtype=np.uint32)
    return fmix32(index ^ key).astype(np.float64) / 4294967296.0 < fraction


def main():
    cfg = json.loads(sys.argv[1])
    warnings.filterwarnings("ignore")
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    t0 = time.perf_counter()
    frame = pd.read_csv(cfg["file"])
    t_read = time.perf_counter() - t0

    label = cfg["label"]
    y = frame.pop(label)
    mask = held_out(len(frame), cfg["seed"], cfg["holdout"])
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    categorical = [c for c in frame.columns if c not in numeric]
    regression = cfg.get("task") == "regression"
    prep = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="mean"), StandardScaler()), numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
        ],
        sparse_threshold=0,
    )
    t1 = time.perf_counter()
    x_train = prep.fit_transform(frame[~mask]).astype(np.float32)
    x_test = prep.transform(frame[mask]).astype(np.float32)
    y_train, y_test = y[~mask].to_numpy(), y[mask].to_numpy()
    t_prep = time.perf_counter() - t1

    if cfg.get("model", "mlp") == "linear":
        model = Ridge() if regression else LogisticRegression(max_iter=1000)
    else:
        kind = MLPRegressor if regression else MLPClassifier
        model = kind(
            hidden_layer_sizes=tuple(cfg.get("hidden", [64])),
            solver="adam",
            batch_size=cfg.get("minibatch", 200),
            learning_rate_init=cfg.get("learningRate", 0.001),
            max_iter=cfg.get("epochs", 200),
            random_state=cfg["seed"],
        )
    t2 = time.perf_counter()
    model.fit(x_train, y_train)
    t_fit = time.perf_counter() - t2
    t3 = time.perf_counter()
    score = float(model.score(x_test, y_test))
    t_score = time.perf_counter() - t3
    print(json.dumps({
        "sklearn": __import__("sklearn").__version__,
        "pandas": pd.__version__,
        "read": t_read, "preprocess": t_prep, "fit": t_fit, "score": t_score,
        "total": time.perf_counter() - t0,
        "epochs": int(np.max(getattr(model, "n_iter_", None) or 0)),
        "trainRows": int((~mask).sum()), "heldOutRows": int(mask.sum()),
        "metric": "r2" if regression else "accuracy", "value": score,
    }))


if __name__ == "__main__":
    main()
