"""LeNet-5 exactly as MindSpore's model zoo defines it (models/official/cv/lenet/src/lenet.py)."""

import mindspore.nn as nn
from mindspore.common.initializer import Normal

from lenet5.contract import NUM_CLASSES


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
