import mindspore as ms
import numpy as np
import pytest
from mindspore import nn, ops

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


def value_and_gradients(cell, x, upstream, wrt_input=True):
    loss = lambda inputs: (cell(inputs) * upstream).sum()
    return ops.value_and_grad(loss, grad_position=0 if wrt_input else None, weights=cell.trainable_params())(x)


def stock_and(conv: str):
    """The stock LeNet5 and the `conv` one, built from the same seed."""
    from lenet5.model import build_lenet5

    ms.set_seed(3)
    stock = build_lenet5("stock")
    ms.set_seed(3)
    return stock, build_lenet5(conv)


@pytest.mark.parametrize("in_channels, out_channels, kernel, size, batch", [
    (1, 6, 5, 32, 4), (6, 16, 5, 14, 3), (3, 8, 3, 9, 2), (2, 4, 1, 7, 1),
])
def test_im2col_convolution_equals_conv2d_forward_and_gradients(in_channels, out_channels, kernel, size, batch):
    from lenet5.model import Im2ColConv2d

    stock = nn.Conv2d(in_channels, out_channels, kernel, pad_mode="valid")
    fast = Im2ColConv2d(stock, size)
    assert fast.weight is stock.weight
    rng = np.random.default_rng(in_channels * 100 + size)
    x = ms.Tensor(rng.normal(size=(batch, in_channels, size, size)).astype(np.float32))
    upstream = ms.Tensor(rng.normal(size=(batch, out_channels, size - kernel + 1, size - kernel + 1))
                         .astype(np.float32))

    stock_value, (stock_dx, (stock_dw,)) = value_and_gradients(stock, x, upstream)
    fast_value, (fast_dx, (fast_dw,)) = value_and_gradients(fast, x, upstream)
    np.testing.assert_allclose(fast(x).asnumpy(), stock(x).asnumpy(), atol=1e-5)
    np.testing.assert_allclose(fast_value.asnumpy(), stock_value.asnumpy(), rtol=1e-5)
    np.testing.assert_allclose(fast_dx.asnumpy(), stock_dx.asnumpy(), atol=1e-5)
    np.testing.assert_allclose(fast_dw.asnumpy(), stock_dw.asnumpy(), atol=1e-4)


def test_im2col_lenet_has_the_stock_parameters_and_outputs():
    stock, fast = stock_and("im2col")
    assert {p.name: p.shape for p in fast.get_parameters()} == EXPECTED_PARAMETERS
    for a, b in zip(stock.get_parameters(), fast.get_parameters()):
        np.testing.assert_array_equal(a.asnumpy(), b.asnumpy())
    x = ms.Tensor(np.random.default_rng(0).normal(size=(5, 1, 32, 32)).astype(np.float32))
    np.testing.assert_allclose(fast(x).asnumpy(), stock(x).asnumpy(), atol=1e-5)


# --- custom CPU kernels (lenet5/cpu_kernels.cc); their cells work channels-last ---------------------------------

def nhwc(array):
    return ms.Tensor(np.ascontiguousarray(array.transpose(0, 2, 3, 1)))


@pytest.mark.parametrize("in_channels, kernel, size, batch", [
    (6, 5, 14, 3), (6, 5, 14, 17), (1, 5, 32, 2), (3, 3, 9, 2), (2, 1, 7, 1), (4, 3, 10, 9), (8, 5, 9, 2),
])
def test_second_convolution_kernel_equals_conv2d_forward_and_gradients(in_channels, kernel, size, batch):
    from lenet5.model import SecondConv

    out_channels = 16
    stock = nn.Conv2d(in_channels, out_channels, kernel, pad_mode="valid")
    fast = SecondConv(stock)
    assert fast.weight is stock.weight
    rng = np.random.default_rng(in_channels * 100 + size)
    x = rng.normal(size=(batch, in_channels, size, size)).astype(np.float32)
    upstream = rng.normal(size=(batch, out_channels, size - kernel + 1, size - kernel + 1)).astype(np.float32)

    stock_value, (stock_dx, (stock_dw,)) = value_and_gradients(stock, ms.Tensor(x), ms.Tensor(upstream))
    fast_value, (fast_dx, (fast_dw,)) = value_and_gradients(fast, nhwc(x), nhwc(upstream))
    np.testing.assert_allclose(fast(nhwc(x)).asnumpy(), stock(ms.Tensor(x)).asnumpy().transpose(0, 2, 3, 1),
                               atol=1e-5)
    np.testing.assert_allclose(fast_value.asnumpy(), stock_value.asnumpy(), rtol=1e-5)
    np.testing.assert_allclose(fast_dx.asnumpy(), stock_dx.asnumpy().transpose(0, 2, 3, 1), atol=1e-5)
    np.testing.assert_allclose(fast_dw.asnumpy(), stock_dw.asnumpy(), atol=1e-4)


@pytest.mark.parametrize("kernel, size, batch", [(5, 32, 4), (5, 20, 3), (3, 12, 9), (1, 8, 2)])
def test_first_convolution_kernel_equals_conv2d_forward_and_weight_gradient(kernel, size, batch):
    from lenet5.model import FirstConv

    stock = nn.Conv2d(1, 6, kernel, pad_mode="valid")
    fast = FirstConv(stock)
    rng = np.random.default_rng(size)
    x = rng.normal(size=(batch, 1, size, size)).astype(np.float32)
    upstream = rng.normal(size=(batch, 6, size - kernel + 1, size - kernel + 1)).astype(np.float32)

    stock_value, (stock_dw,) = value_and_gradients(stock, ms.Tensor(x), ms.Tensor(upstream), wrt_input=False)
    fast_value, (fast_dw,) = value_and_gradients(fast, nhwc(x), nhwc(upstream), wrt_input=False)
    np.testing.assert_allclose(fast(nhwc(x)).asnumpy(), stock(ms.Tensor(x)).asnumpy().transpose(0, 2, 3, 1),
                               atol=1e-5)
    np.testing.assert_allclose(fast_value.asnumpy(), stock_value.asnumpy(), rtol=1e-5)
    np.testing.assert_allclose(fast_dw.asnumpy(), stock_dw.asnumpy(), atol=1e-4)


def test_convolution_kernels_refuse_other_layers():
    from lenet5.model import FirstConv, SecondConv

    with pytest.raises(ValueError, match="1 -> 6 channels"):
        FirstConv(nn.Conv2d(3, 6, 5, pad_mode="valid"))
    with pytest.raises(ValueError, match="16 output channels"):
        SecondConv(nn.Conv2d(6, 8, 5, pad_mode="valid"))
    with pytest.raises(ValueError, match="SecondConv covers valid, stride-1"):
        SecondConv(nn.Conv2d(6, 16, 5, stride=2, pad_mode="valid"))


def test_pooling_kernel_refuses_odd_sizes():
    from lenet5 import cpu_kernels

    with pytest.raises(RuntimeError, match="ReluMaxPool"):
        cpu_kernels.relu_max_pool()(ms.Tensor(np.ones((1, 5, 4, 2), np.float32))).asnumpy()


def test_relu_max_pool_kernel_equals_relu_then_max_pool_with_ties():
    from lenet5 import cpu_kernels

    fast = cpu_kernels.relu_max_pool()
    stock = nn.SequentialCell([nn.ReLU(), nn.MaxPool2d(kernel_size=2, stride=2)])
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 3, 6, 8)).astype(np.float32)
    x[0, 0, :4, :4] = 0.7              # equal maxima (a blank background gives these): the first one gets the gradient
    x[1, 2] = -0.2                     # every value negative: no gradient at all
    upstream = rng.normal(size=(2, 3, 3, 4)).astype(np.float32)

    stock_upstream, fast_upstream = ms.Tensor(upstream), nhwc(upstream)
    stock_loss = lambda t: (stock(t) * stock_upstream).sum()
    fast_loss = lambda t: (fast(t) * fast_upstream).sum()
    stock_dx, fast_dx = ops.grad(stock_loss)(ms.Tensor(x)).asnumpy(), ops.grad(fast_loss)(nhwc(x)).asnumpy()
    np.testing.assert_array_equal(fast(nhwc(x)).asnumpy(), stock(ms.Tensor(x)).asnumpy().transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(fast_dx, stock_dx.transpose(0, 2, 3, 1))


def test_aot_lenet_has_the_stock_parameters_outputs_and_gradients():
    stock, fast = stock_and("aot")
    assert {p.name: p.shape for p in fast.get_parameters()} == EXPECTED_PARAMETERS
    rng = np.random.default_rng(0)
    x = ms.Tensor(rng.normal(size=(8, 1, 32, 32)).astype(np.float32))
    upstream = ms.Tensor(rng.normal(size=(8, 10)).astype(np.float32))
    (stock_value, stock_grads), (fast_value, fast_grads) = (value_and_gradients(net, x, upstream, wrt_input=False)
                                                            for net in (stock, fast))
    np.testing.assert_allclose(fast_value.asnumpy(), stock_value.asnumpy(), rtol=1e-5)
    for parameter, stock_grad, fast_grad in zip(stock.trainable_params(), stock_grads, fast_grads):
        np.testing.assert_allclose(fast_grad.asnumpy(), stock_grad.asnumpy(), atol=1e-5, err_msg=parameter.name)
