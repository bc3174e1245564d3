import numpy as np
import pytest
from conftest import linear_onnx_model

from lenet5.backends import ModelNotFound, open_backend, run_batches


def test_onnxruntime_backend_computes_the_model(tmp_path):
    path, weight, bias = linear_onnx_model(tmp_path / "m.onnx")
    backend = open_backend(path)
    batch = np.random.default_rng(1).normal(size=(5, 1, 32, 32)).astype(np.float32)
    logits = backend.run(batch)
    np.testing.assert_allclose(logits, batch.reshape(5, -1) @ weight + bias, rtol=1e-4, atol=1e-5)
    assert backend.name == "onnxruntime" and backend.batch_size is None
    backend.close()


def test_fixed_batch_models_are_padded(tmp_path):
    path, weight, bias = linear_onnx_model(tmp_path / "m.onnx", batch=4)
    backend = open_backend(path)
    assert backend.batch_size == 4
    inputs = np.random.default_rng(2).normal(size=(10, 1, 32, 32)).astype(np.float32)
    logits = run_batches(backend, inputs)
    assert logits.shape == (10, 10)
    np.testing.assert_allclose(logits, inputs.reshape(10, -1) @ weight + bias, rtol=1e-4, atol=1e-5)


def test_missing_model_names_the_stage(tmp_path):
    with pytest.raises(ModelNotFound, match="convert stage"):
        open_backend(tmp_path / "lenet.onnx")


def test_unknown_suffix_and_corrupt_model(tmp_path):
    weird = tmp_path / "model.pb"
    weird.write_bytes(b"x")
    with pytest.raises(ValueError, match="unknown model type"):
        open_backend(weird)
    corrupt = tmp_path / "model.onnx"
    corrupt.write_bytes(b"not a protobuf")
    with pytest.raises(ValueError, match="model.onnx: ONNX Runtime cannot load it"):
        open_backend(corrupt)
