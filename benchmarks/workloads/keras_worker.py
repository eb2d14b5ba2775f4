"""Worker process for workload B: the articles' script with Keras 3 (KERAS_BACKEND=torch).

Usage (run by circles.py, not by hand)::

    KERAS_BACKEND=torch python keras_worker.py DATA.npz EPOCHS THREADS

Prints one JSON line when ready (versions, import time, first-run time), then
reads commands from stdin: ``run`` builds, compiles and fits the model and
prints ``{"seconds": ...}`` (imports and data loading not included); ``quit``.
"""

from __future__ import annotations

import json
import os
import sys
import time


def main() -> None:
    data_path, epochs, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    os.environ.setdefault("KERAS_BACKEND", "torch")
    start = time.perf_counter()
    import keras
    import numpy as np
    import torch

    import_seconds = time.perf_counter() - start
    torch.set_num_threads(threads)
    data = np.load(data_path)
    X_train, y_train = data["X"], data["y"]

    def script() -> float:
        start = time.perf_counter()
        model = keras.models.Sequential()
        model.add(keras.Input(shape=(2,)))
        model.add(keras.layers.Dense(4, activation="relu"))
        model.add(keras.layers.Dense(6, activation="relu"))
        model.add(keras.layers.Dense(6, activation="relu"))
        model.add(keras.layers.Dense(4, activation="relu"))
        model.add(keras.layers.Dense(1, activation="sigmoid"))
        model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
        model.fit(X_train, y_train, epochs=epochs, verbose=0)
        return time.perf_counter() - start

    first = script()
    hello = {
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "import_seconds": import_seconds,
        "first_run_seconds": first,
    }
    print(json.dumps(hello), flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "run":
            print(json.dumps({"seconds": script()}), flush=True)
        elif command == "quit":
            break


if __name__ == "__main__":
    main()
