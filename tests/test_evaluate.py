import numpy as np
import pytest
from conftest import linear_onnx_model

from lenet5 import evaluate
from lenet5.backends import open_backend


def test_accuracy_report():
    labels = np.array([0, 1, 2, 2])
    logits = np.eye(10)[[0, 1, 2, 1]]
    reference = np.eye(10)[[0, 1, 1, 1]] + 0.25
    report = evaluate.accuracy_report(logits, labels, reference)
    assert report["accuracy"] == 0.75
    assert report["checkpoint_accuracy"] == 0.5
    assert report["agreement_with_checkpoint"] == 0.75
    assert report["max_abs_logit_diff"] == pytest.approx(1.25)
    assert report["per_class_accuracy"]["2"] == 0.5 and report["per_class_accuracy"]["3"] is None


def test_mismatched_reference_is_an_error():
    with pytest.raises(ValueError, match="rerun the train stage"):
        evaluate.accuracy_report(np.zeros((3, 10)), np.zeros(3), np.zeros((4, 10)))


def test_evaluate_runs_the_app_path(tmp_path, mnist_like):
    images, _ = mnist_like
    path, weight, bias = linear_onnx_model(tmp_path / "m.onnx")
    backend = open_backend(path)
    logits, timing = evaluate.evaluate(backend, images, batch_size=8)
    from lenet5.preprocess import prepare
    expected = np.stack([prepare(i) for i in images]).reshape(len(images), -1) @ weight + bias
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-5)
    assert timing["batched_images_per_second"] > 0
    latency = evaluate.batch1_latency(backend, prepare(images[0]), runs=20)
    assert 0 < latency["batch1_p50_ms"] <= latency["batch1_p99_ms"]


def test_confusion_rows_and_misclassified_grid(tmp_path, mnist_like):
    images, labels = mnist_like
    logits = np.eye(10)[labels]
    logits[[0, 5]] = np.eye(10)[[9, 9]]
    rows = evaluate.predictions_table(labels, logits)
    assert rows[0] == {"actual": 0, "predicted": 9} and rows[1] == {"actual": 0, "predicted": 0}
    wrong = evaluate.misclassified_grid(images, labels, logits, tmp_path / "grid.png", limit=36)
    assert wrong == 2
    assert (tmp_path / "grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
