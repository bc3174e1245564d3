"""The same LeNet-5, loss, optimiser and feeding in PyTorch: the reference for the training benchmark."""

import time

import numpy as np
import torch
from torch import nn


class TorchLeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, bias=False)
        self.conv2 = nn.Conv2d(6, 16, 5, bias=False)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc1, self.fc2, self.fc3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


def train_images_per_second(images: np.ndarray, labels: np.ndarray, epochs: int, batch_size: int, seed: int) -> float:
    """Images/s of the training loop alone (feeding from memory included), as lenet5.train measures it."""
    torch.manual_seed(seed)
    net = TorchLeNet5()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    labels = labels.astype(np.int64)
    shuffle = np.random.default_rng(seed)
    steps = len(labels) // batch_size
    seconds = 0.0
    for _ in range(epochs):
        batches = shuffle.permutation(len(labels))[:steps * batch_size].reshape(steps, batch_size)
        start = time.perf_counter()
        for b in batches:
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(net(torch.from_numpy(images[b])), torch.from_numpy(labels[b]))
            loss.backward()
            optimizer.step()
        seconds += time.perf_counter() - start
    return epochs * steps * batch_size / seconds
