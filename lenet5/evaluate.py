"""On-device evaluation: the test split through the app's own path (preprocess -> runtime -> softmax)."""

import dataclasses
import time
from pathlib import Path

import numpy as np

from lenet5.backends import Backend, run_batches
from lenet5.contract import CLASS_NAMES, NUM_CLASSES
from lenet5.preprocess import prepare_batch


@dataclasses.dataclass
class EvaluateParams:
    batch_size: int = 256          # batched throughput; a fixed-batch model (.om) uses its own
    latency_runs: int = 1000       # batch-1 inferences timed for p50/p99
    threads: int = 0               # runtime threads, 0 = runtime's choice
    misclassified_shown: int = 36

    def check(self):
        if self.batch_size < 1 or self.latency_runs < 1:
            raise ValueError("evaluate.batch_size and evaluate.latency_runs must be at least 1")


def accuracy_report(logits: np.ndarray, labels: np.ndarray, reference_logits: np.ndarray) -> dict:
    """Accuracy, per-class accuracy and agreement with the checkpoint's logits on the same images."""
    if reference_logits.shape != logits.shape:
        raise ValueError(f"checkpoint logits {reference_logits.shape} do not match the test split {logits.shape}; "
                         "rerun the train stage on this data")
    predicted = logits.argmax(axis=1)
    per_class = {CLASS_NAMES[c]: float(np.mean(predicted[labels == c] == c)) if np.any(labels == c) else None
                 for c in range(NUM_CLASSES)}
    reference_predicted = reference_logits.argmax(axis=1)
    return {
        "images": len(labels),
        "accuracy": float(np.mean(predicted == labels)),
        "checkpoint_accuracy": float(np.mean(reference_predicted == labels)),
        "agreement_with_checkpoint": float(np.mean(predicted == reference_predicted)),
        "max_abs_logit_diff": float(np.abs(logits - reference_logits).max()),
        "per_class_accuracy": per_class,
    }


def evaluate(backend: Backend, images: np.ndarray, batch_size: int) -> tuple[np.ndarray, dict]:
    """Logits for raw uint8 images, and how long preprocessing and inference took."""
    start = time.perf_counter()
    inputs = prepare_batch(images)
    preprocess_seconds = time.perf_counter() - start
    run_batches(backend, inputs[:batch_size], batch_size)     # warm-up
    start = time.perf_counter()
    logits = run_batches(backend, inputs, batch_size)
    inference_seconds = time.perf_counter() - start
    timing = {
        "preprocess_us_per_image": 1e6 * preprocess_seconds / max(len(images), 1),
        "batched_images_per_second": len(images) / inference_seconds if inference_seconds else None,
        "whole_split_seconds": preprocess_seconds + inference_seconds,
    }
    return logits, timing


def batch1_latency(backend: Backend, sample: np.ndarray, runs: int) -> dict:
    """p50/p99 wall time of one-image inferences, in milliseconds."""
    single = sample[np.newaxis]
    for _ in range(min(runs, 50)):
        backend.run(single)
    times = np.empty(runs)
    for i in range(runs):
        start = time.perf_counter()
        backend.run(single)
        times[i] = time.perf_counter() - start
    return {"batch1_p50_ms": float(np.percentile(times, 50) * 1e3),
            "batch1_p99_ms": float(np.percentile(times, 99) * 1e3),
            "batch1_runs": runs}


def predictions_table(labels: np.ndarray, logits: np.ndarray) -> list[dict]:
    """Rows for DVC's confusion template."""
    return [{"actual": int(a), "predicted": int(p)} for a, p in zip(labels, logits.argmax(axis=1))]


def misclassified_grid(images: np.ndarray, labels: np.ndarray, logits: np.ndarray, path: Path, limit: int) -> int:
    """A PNG grid of misclassified digits titled `true -> predicted`; returns how many were wrong."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    predicted = logits.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    shown = wrong[:limit]
    columns = 6
    rows = max(1, -(-len(shown) // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(columns * 1.3, rows * 1.5 + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, shown):
        ax.imshow(images[i], cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"#{i}: {labels[i]}→{predicted[i]}", fontsize=8)
    figure.suptitle(f"misclassified: {len(wrong)} of {len(labels)} (true→predicted), first {len(shown)} shown",
                    fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=100, format="png")
    plt.close(figure)
    return len(wrong)
