"""Training LeNet-5 with MindSpore on idx split folders, as the model zoo does it."""

import dataclasses
import time
from pathlib import Path

import mindspore as ms
import mindspore.dataset as ds
import mindspore.dataset.transforms as transforms
import mindspore.dataset.vision as vision
import numpy as np
from mindspore import nn
from tqdm import tqdm

from lenet5.contract import INPUT_SIZE, MEAN, STD
from lenet5.model import LeNet5

DEVICES = ("CPU", "GPU", "Ascend")


@dataclasses.dataclass
class TrainParams:
    epochs: int = 10
    batch_size: int = 32
    lr: float = 0.01
    momentum: float = 0.9
    seed: int = 1
    device: str = "CPU"

    def check(self):
        if self.device not in DEVICES:
            raise ValueError(f"train.device {self.device!r} is unknown; valid devices: {', '.join(DEVICES)}")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"train.{name} must be at least 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ValueError(f"train.lr must be positive, got {self.lr}")


def configure(device: str, seed: int) -> None:
    ms.set_device(device)
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_seed(seed)
    ds.config.set_seed(seed)


def mnist_dataset(folder: Path, usage: str, batch_size: int, training: bool) -> ds.Dataset:
    """The model zoo's pipeline: 28->32 bilinear, x/255, (x-MEAN)/STD, HWC->CHW; int32 labels."""
    dataset = ds.MnistDataset(str(folder), usage=usage, shuffle=False)
    image_ops = [
        vision.Resize((INPUT_SIZE, INPUT_SIZE), interpolation=vision.Inter.LINEAR),
        vision.Rescale(1.0 / 255.0, 0.0),
        vision.Rescale(1 / STD, -MEAN / STD),
        vision.HWC2CHW(),
    ]
    dataset = dataset.map(operations=transforms.TypeCast(ms.int32), input_columns="label")
    dataset = dataset.map(operations=image_ops, input_columns="image")
    if training:
        dataset = dataset.shuffle(buffer_size=10000)
    return dataset.batch(batch_size, drop_remainder=training)


def predict(net: nn.Cell, dataset: ds.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Logits and labels over a whole dataset."""
    net.set_train(False)
    logits, labels = [], []
    for images, batch_labels in dataset.create_tuple_iterator():
        logits.append(net(images).asnumpy())
        labels.append(batch_labels.asnumpy())
    net.set_train(True)
    return np.concatenate(logits), np.concatenate(labels)


def train(data_dir: Path, params: TrainParams, on_epoch=None):
    """Train from scratch; returns the network, the test logits and a summary dict.

    `on_epoch(epoch, {"loss": ..., "accuracy": ...})` is called after every epoch.
    """
    configure(params.device, params.seed)
    train_set = mnist_dataset(Path(data_dir) / "train", "train", params.batch_size, training=True)
    test_set = mnist_dataset(Path(data_dir) / "test", "test", params.batch_size, training=False)
    net = LeNet5()
    loss_fn = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    optimizer = nn.Momentum(net.trainable_params(), learning_rate=params.lr, momentum=params.momentum)
    step = nn.TrainOneStepCell(nn.WithLossCell(net, loss_fn), optimizer)
    step.set_train(True)

    steps_per_epoch = train_set.get_dataset_size()
    images_seen, train_seconds, loss = 0, 0.0, float("nan")
    for epoch in range(1, params.epochs + 1):
        losses = []
        start = time.perf_counter()
        with tqdm(total=steps_per_epoch, desc=f"epoch {epoch}/{params.epochs}", unit="step") as bar:
            for images, labels in train_set.create_tuple_iterator(num_epochs=1):
                losses.append(step(images, labels))
                bar.update()
                if bar.n % 50 == 0:
                    bar.set_postfix(loss=f"{float(losses[-1].asnumpy()):.4f}")
        train_seconds += time.perf_counter() - start
        images_seen += steps_per_epoch * params.batch_size
        loss = float(np.mean([l.asnumpy() for l in losses]))
        logits, labels = predict(net, test_set)
        accuracy = float(np.mean(logits.argmax(axis=1) == labels))
        tqdm.write(f"epoch {epoch}: loss {loss:.4f}  test accuracy {accuracy:.4f}")
        if on_epoch:
            on_epoch(epoch, {"loss": loss, "accuracy": accuracy})

    summary = {
        "loss": loss,
        "accuracy": accuracy,
        "epochs": params.epochs,
        "steps_per_epoch": steps_per_epoch,
        "train_images": steps_per_epoch * params.batch_size,
        "test_images": int(len(labels)),
        "images_per_second": images_seen / train_seconds,
        "train_seconds": train_seconds,
    }
    return net, logits, summary
