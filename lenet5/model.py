"""LeNet-5 exactly as MindSpore's model zoo defines it (models/official/cv/lenet/src/lenet.py), and two faster
ways to compute it on the CPU that keep the network's parameters: gather + MatMul convolutions (pure MindSpore)
and custom CPU kernels for the convolution and pooling layers (lenet5/cpu_kernels.py)."""

import mindspore as ms
import numpy as np
from mindspore import nn, ops
from mindspore.common.initializer import Normal

from lenet5 import cpu_kernels
from lenet5.contract import INPUT_SIZE, NUM_CLASSES


class LeNet5(nn.Cell):
    """Conv(1->6,5) ReLU MaxPool Conv(6->16,5) ReLU MaxPool Flatten Dense 400-120-84-10, N(0.02) init."""

    def __init__(self, num_class=NUM_CLASSES, num_channel=1, include_top=True):
        super().__init__()
        self.num_class = num_class
        self.include_top = include_top
        self.conv1 = nn.Conv2d(num_channel, 6, 5, pad_mode="valid")
        self.conv2 = nn.Conv2d(6, 16, 5, pad_mode="valid")
        self.relu = nn.ReLU()
        self.max_pool2d = nn.MaxPool2d(kernel_size=2, stride=2)
        if self.include_top:
            self.flatten = nn.Flatten()
            self.fc1 = nn.Dense(16 * 5 * 5, 120, weight_init=Normal(0.02))
            self.fc2 = nn.Dense(120, 84, weight_init=Normal(0.02))
            self.fc3 = nn.Dense(84, num_class, weight_init=Normal(0.02))

    def construct(self, x):
        x = self.conv1(x)
        x = self.relu(x)
        x = self.max_pool2d(x)
        x = self.conv2(x)
        x = self.relu(x)
        x = self.max_pool2d(x)
        if not self.include_top:
            return x
        x = self.flatten(x)
        x = self.relu(self.fc1(x))
        x = self.relu(self.fc2(x))
        x = self.fc3(x)
        return x


def check_plain_convolution(conv: nn.Conv2d, name: str) -> None:
    """The faster forms cover LeNet's kind of convolution only: valid padding, stride 1, square, no dilation,
    groups or bias."""
    _, _, kh, kw = conv.weight.shape
    if (conv.pad_mode != "valid" or conv.has_bias or tuple(conv.stride) != (1, 1) or conv.group != 1
            or tuple(conv.dilation) != (1, 1) or kh != kw):
        raise ValueError(f"{name} covers valid, stride-1, square, undilated, ungrouped convolutions without bias")


class Im2ColConv2d(nn.Cell):
    """An `nn.Conv2d` (valid padding, stride 1, no bias) computed as one gather and one MatMul.

    Same parameter (shared with the wrapped conv, so names, shapes and initial values are the stock ones) and the
    same result within float rounding; on MindSpore's CPU backend it trains about ten times faster than Conv2D,
    whose CPU kernel is slow for LeNet's small shapes.
    """

    def __init__(self, conv: nn.Conv2d, input_size: int):
        super().__init__()
        check_plain_convolution(conv, "Im2ColConv2d")
        self.weight = conv.weight
        out_channels, in_channels, k, _ = conv.weight.shape
        self.out_size = input_size - k + 1
        self.out_channels, self.patch_size = out_channels, in_channels * k * k
        # patch_index[p, j]: where, in one flattened C x H x W input, the j-th value of output pixel p's patch is
        c, ki, kj, row, col = np.meshgrid(np.arange(in_channels), np.arange(k), np.arange(k),
                                          np.arange(self.out_size), np.arange(self.out_size), indexing="ij")
        index = c * input_size * input_size + (row + ki) * input_size + (col + kj)
        self.patch_index = ms.Tensor(index.reshape(self.patch_size, -1).T.astype(np.int32))
        self.matmul = ops.MatMul(transpose_b=True)

    def construct(self, x):
        n = x.shape[0]
        patches = ops.gather(x.reshape(n, -1), self.patch_index, 1)          # N x pixels x patch
        y = self.matmul(patches.reshape(-1, self.patch_size), self.weight.reshape(self.out_channels, -1))
        y = y.reshape(n, -1, self.out_channels).transpose(0, 2, 1)           # N x channels x pixels
        return y.reshape(n, self.out_channels, self.out_size, self.out_size)


class FirstConv(nn.Cell):
    """LeNet's first convolution (1 -> 6 channels, output rows up to 32 wide) as one custom CPU kernel,
    channels-last in and out. Its input is the data, so only the weight gets a gradient."""

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        self.weight = conv.weight
        out_channels, in_channels, k, _ = conv.weight.shape
        check_plain_convolution(conv, "FirstConv")
        if (in_channels, out_channels) != (1, cpu_kernels.FIRST_CONV_OUT):
            raise ValueError("FirstConv covers LeNet's first convolution: 1 -> 6 channels")
        self.conv = cpu_kernels.first_conv(k)

    def construct(self, x):
        return self.conv(ops.stop_gradient(x), self.weight)


class SecondConv(nn.Cell):
    """LeNet's second convolution (C -> 16 channels) as one custom CPU kernel, channels-last in and out."""

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        self.weight = conv.weight
        out_channels, in_channels, k, _ = conv.weight.shape
        check_plain_convolution(conv, "SecondConv")
        if out_channels != cpu_kernels.SECOND_CONV_OUT:
            raise ValueError("SecondConv covers LeNet's second convolution: 16 output channels")
        self.conv = cpu_kernels.second_conv(k, in_channels)

    def construct(self, x):
        return self.conv(x, self.weight)


class AotLeNet5(LeNet5):
    """The zoo's LeNet5 computed channels-last with custom CPU kernels (lenet5/cpu_kernels.cc).

    Same parameters, names and results as LeNet5 within float rounding. Activations stay N x H x W x C until the
    classifier, which gets the standard C x H x W flattening, so the checkpoint is the stock network's.
    """

    def __init__(self):
        super().__init__()
        self.conv1 = FirstConv(self.conv1)
        self.conv2 = SecondConv(self.conv2)
        self.relu_pool1 = cpu_kernels.relu_max_pool()
        self.relu_pool2 = cpu_kernels.relu_max_pool()

    def construct(self, x):
        n, _, height, width = x.shape
        x = self.relu_pool1(self.conv1(x.reshape(n, height, width, 1)))    # one channel: NCHW is NHWC
        x = self.relu_pool2(self.conv2(x))
        x = x.transpose(0, 3, 1, 2).reshape(n, -1)
        x = self.relu(self.fc1(x))
        x = self.relu(self.fc2(x))
        return self.fc3(x)


CONV_IMPLEMENTATIONS = ("auto", "stock", "im2col", "aot")


def build_lenet5(conv: str = "stock", input_size: int = INPUT_SIZE) -> LeNet5:
    """The zoo's LeNet5 with the same parameters computed by: nn.Conv2d ("stock"), gather + MatMul
    convolutions ("im2col", pure MindSpore) or custom CPU kernels ("aot", needs a C++ compiler). `input_size`
    is the side of the square input, which im2col's gather indices are built for; the others take any size."""
    if conv not in ("stock", "im2col", "aot"):
        raise ValueError(f"conv implementation {conv!r} is unknown; use stock, im2col or aot")
    if conv == "aot":
        return AotLeNet5()
    net = LeNet5()
    if conv == "im2col":
        net.conv1 = Im2ColConv2d(net.conv1, input_size)
        net.conv2 = Im2ColConv2d(net.conv2, (input_size - 4) // 2)
    return net
