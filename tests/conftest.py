import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from lenet5.contract import INPUT_NAME, INPUT_SIZE, NUM_CLASSES


def linear_onnx_model(path, seed=0, batch="N"):
    """A stand-in deployable model with LeNet's interface: N x 1 x 32 x 32 -> Flatten -> Gemm -> N x 10."""
    rng = np.random.default_rng(seed)
    weight = rng.normal(0, 0.01, (INPUT_SIZE * INPUT_SIZE, NUM_CLASSES)).astype(np.float32)
    bias = rng.normal(0, 0.01, NUM_CLASSES).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Flatten", [INPUT_NAME], ["flat"]), helper.make_node("Gemm", ["flat", "W", "B"], ["logits"])],
        "linear",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, [batch, 1, INPUT_SIZE, INPUT_SIZE])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, NUM_CLASSES])],
        [numpy_helper.from_array(weight, "W"), numpy_helper.from_array(bias, "B")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path, weight, bias


@pytest.fixture
def onnx_model(tmp_path):
    path, _, _ = linear_onnx_model(tmp_path / "linear.onnx")
    return path


@pytest.fixture
def mnist_like():
    """Twenty synthetic 28 x 28 uint8 'digits' (a bright blob on black) and labels, two per class."""
    rng = np.random.default_rng(0)
    images = np.zeros((20, 28, 28), np.uint8)
    for i in range(20):
        top, left = rng.integers(4, 12, 2)
        images[i, top:top + 12, left:left + 6] = rng.integers(128, 256)
    return images, np.repeat(np.arange(10, dtype=np.uint8), 2)
