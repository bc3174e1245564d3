"""Stage evaluate: the deployed model over the test split through the app's code path (params `evaluate`).

Writes metrics/evaluate.json (accuracy, parity with the checkpoint), metrics/latency.json (noisy timings),
metrics/predictions.csv (confusion matrix) and metrics/misclassified.png.
"""

import csv

import numpy as np

from lenet5 import idx, params
from lenet5.app import default_model
from lenet5.backends import open_backend
from lenet5.evaluate import (
    EvaluateParams,
    accuracy_report,
    batch1_latency,
    evaluate,
    misclassified_grid,
    predictions_table,
)
from lenet5.files import atomic_path, write_json
from lenet5.preprocess import prepare
from stages import CHECKPOINT_LOGITS, DATA_DIR, DEPLOY_DIR, METRICS_DIR, run


def main():
    p = params.load(EvaluateParams, "evaluate")
    images, labels = idx.read_split(DATA_DIR / "test", "test")
    model_path = default_model(DEPLOY_DIR)
    backend = open_backend(model_path, threads=p.threads)
    try:
        logits, timing = evaluate(backend, images, p.batch_size)
        latency = batch1_latency(backend, prepare(images[0]), p.latency_runs)
    finally:
        backend.close()

    report = accuracy_report(logits, labels, np.load(CHECKPOINT_LOGITS))
    report["model"] = str(model_path)
    report["model_size_bytes"] = model_path.stat().st_size
    write_json(METRICS_DIR / "evaluate.json", report)
    write_json(METRICS_DIR / "latency.json", {"backend": backend.name, **latency, **timing})
    with atomic_path(METRICS_DIR / "predictions.csv") as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["actual", "predicted"])
        writer.writeheader()
        writer.writerows(predictions_table(labels, logits))
    with atomic_path(METRICS_DIR / "misclassified.png") as tmp:
        wrong = misclassified_grid(images, labels, logits, tmp, p.misclassified_shown)
    print(f"accuracy {report['accuracy']:.4f} (checkpoint {report['checkpoint_accuracy']:.4f}), "
          f"agreement {report['agreement_with_checkpoint']:.4%}, {wrong} misclassified, "
          f"batch-1 p50 {latency['batch1_p50_ms']:.3f} ms")


if __name__ == "__main__":
    run(main)
