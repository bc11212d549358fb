"""Trains scikit-learn's MLPClassifier on the same preprocessed rows mlscale trained on.

Reads float32 matrices written by bench/pipeline.ts, trains epoch by epoch with partial_fit
(the same architecture, optimiser, learning rate, minibatch and L2 as mlscale), and prints one
JSON line: seconds and held-out accuracy after each epoch. Data loading is not timed.
"""
import json
import sys
import time

import numpy as np
from sklearn.neural_network import MLPClassifier


def load(path, cols):
    return np.fromfile(path, dtype=np.float32).reshape(-1, cols)


def main():
    cfg = json.loads(sys.argv[1])
    d, k = cfg["inputs"], cfg["classes"]
    x_train = load(cfg["xTrain"], d)
    y_train = np.fromfile(cfg["yTrain"], dtype=np.int32)
    x_test = load(cfg["xTest"], d)
    y_test = np.fromfile(cfg["yTest"], dtype=np.int32)
    model = MLPClassifier(
        hidden_layer_sizes=tuple(cfg["hidden"]),
        activation="relu",
        solver="adam",
        # mlscale adds l2·W to the gradient per step; scikit-learn adds alpha·W/batch_size.
        alpha=cfg["l2"] * cfg["minibatch"],
        batch_size=cfg["minibatch"],
        learning_rate_init=cfg["learningRate"],
        shuffle=True,
        random_state=cfg["seed"],
    )
    classes = np.arange(k, dtype=np.int32)
    elapsed = 0.0
    curve = []
    for _ in range(cfg["epochs"]):
        t0 = time.perf_counter()
        model.partial_fit(x_train, y_train, classes=classes)
        elapsed += time.perf_counter() - t0
        accuracy = float((model.predict(x_test) == y_test).mean())
        curve.append({"seconds": elapsed, "accuracy": accuracy})
    print(json.dumps({"sklearn": __import__("sklearn").__version__, "curve": curve}))


if __name__ == "__main__":
    main()
