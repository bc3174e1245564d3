import mindspore as ms
import numpy as np
import pytest

from lenet5.model import LeNet5

ms.set_device("CPU")
ms.set_context(mode=ms.GRAPH_MODE)

EXPECTED_PARAMETERS = {
    "conv1.weight": (6, 1, 5, 5), "conv2.weight": (16, 6, 5, 5),
    "fc1.weight": (120, 400), "fc1.bias": (120,), "fc2.weight": (84, 120), "fc2.bias": (84,),
    "fc3.weight": (10, 84), "fc3.bias": (10,),
}


def test_parameter_names_and_shapes_are_the_model_zoos():
    net = LeNet5()
    assert {p.name: p.shape for p in net.get_parameters()} == EXPECTED_PARAMETERS


def test_forward_shapes():
    net = LeNet5()
    x = ms.Tensor(np.zeros((3, 1, 32, 32), np.float32))
    assert net(x).shape == (3, 10)
    assert LeNet5(include_top=False)(x).shape == (3, 16, 5, 5)


def test_dense_layers_start_from_normal_0_02():
    ms.set_seed(1)
    weights = LeNet5().fc1.weight.asnumpy()
    assert abs(weights.mean()) < 0.002
    assert weights.std() == pytest.approx(0.02, rel=0.05)
