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


@pytest.mark.parametrize("in_channels, out_channels, kernel, size, batch", [
    (1, 6, 5, 32, 4), (6, 16, 5, 14, 3), (3, 8, 3, 9, 2), (2, 4, 1, 7, 1),
])
def test_im2col_convolution_equals_conv2d_forward_and_gradients(in_channels, out_channels, kernel, size, batch):
    from mindspore import nn, ops

    from lenet5.model import Im2ColConv2d

    stock = nn.Conv2d(in_channels, out_channels, kernel, pad_mode="valid")
    fast = Im2ColConv2d(stock, size)
    assert fast.weight is stock.weight
    rng = np.random.default_rng(in_channels * 100 + size)
    x = ms.Tensor(rng.normal(size=(batch, in_channels, size, size)).astype(np.float32))
    upstream = ms.Tensor(rng.normal(size=(batch, out_channels, size - kernel + 1, size - kernel + 1))
                         .astype(np.float32))

    def gradients(cell):
        loss = lambda inputs: (cell(inputs) * upstream).sum()
        return ops.value_and_grad(loss, grad_position=0, weights=cell.trainable_params())(x)

    (stock_value, (stock_dx, (stock_dw,))), (fast_value, (fast_dx, (fast_dw,))) = gradients(stock), gradients(fast)
    np.testing.assert_allclose(fast(x).asnumpy(), stock(x).asnumpy(), atol=1e-5)
    np.testing.assert_allclose(fast_value.asnumpy(), stock_value.asnumpy(), rtol=1e-5)
    np.testing.assert_allclose(fast_dx.asnumpy(), stock_dx.asnumpy(), atol=1e-5)
    np.testing.assert_allclose(fast_dw.asnumpy(), stock_dw.asnumpy(), atol=1e-4)


def test_im2col_lenet_has_the_stock_parameters_and_outputs():
    from lenet5.model import build_lenet5

    ms.set_seed(3)
    stock = build_lenet5("stock")
    ms.set_seed(3)
    fast = build_lenet5("im2col")
    assert {p.name: p.shape for p in fast.get_parameters()} == EXPECTED_PARAMETERS
    for a, b in zip(stock.get_parameters(), fast.get_parameters()):
        np.testing.assert_array_equal(a.asnumpy(), b.asnumpy())
    x = ms.Tensor(np.random.default_rng(0).normal(size=(5, 1, 32, 32)).astype(np.float32))
    np.testing.assert_allclose(fast(x).asnumpy(), stock(x).asnumpy(), atol=1e-5)
