"""Training LeNet-5 with MindSpore on idx split folders, as the model zoo does it.

The split goes through the zoo's MindSpore data pipeline once and is held in memory; each epoch then draws a
seeded permutation of it in batches. On the CPU the convolution and pooling layers run as custom CPU kernels
(`train.conv: auto` -> aot, or gather + MatMul convolutions where no C++ compiler is found), which keep the
network's parameters and results but train about twenty times faster than MindSpore's own CPU convolution.

Under msrun (`train.workers` > 1, see lenet5/distributed.py) every worker trains on its own shard of the split
with batch `train.batch_size`, so the global batch is batch_size x workers; the learning rate is scaled by the
same factor (the linear scaling rule) and gradients are averaged across workers.
"""

import dataclasses
import hashlib
import time
from pathlib import Path

import mindspore as ms
import mindspore.dataset as ds
import numpy as np
from mindspore import nn
from mindspore.dataset import transforms, vision
from tqdm import tqdm

from lenet5 import cpu_kernels, distributed
from lenet5.contract import INPUT_SIZE, MEAN, STD
from lenet5.model import CONV_IMPLEMENTATIONS, build_lenet5

DEVICES = ("CPU", "GPU", "Ascend")


@dataclasses.dataclass
class TrainParams:
    epochs: int = 10
    batch_size: int = 32
    lr: float = 0.01
    momentum: float = 0.9
    seed: int = 1
    device: str = "CPU"
    conv: str = "auto"         # auto: aot (else im2col) on CPU, stock nn.Conv2d on GPU/Ascend
    workers: int = 1           # > 1: data-parallel under msrun, one process per worker
    master_port: int = 0       # msrun's scheduler port; 0 takes a free one

    def check(self):
        if self.device not in DEVICES:
            raise ValueError(f"train.device {self.device!r} is unknown; valid devices: {', '.join(DEVICES)}")
        if self.conv not in CONV_IMPLEMENTATIONS:
            raise ValueError(f"train.conv {self.conv!r} is unknown; valid: {', '.join(CONV_IMPLEMENTATIONS)}")
        for name in ("epochs", "batch_size", "workers"):
            if getattr(self, name) < 1:
                raise ValueError(f"train.{name} must be at least 1, got {getattr(self, name)}")
        if self.conv == "aot" and self.device != "CPU":
            raise ValueError(f"train.conv aot is for the CPU only; use auto or stock with device {self.device}")
        if self.lr <= 0:
            raise ValueError(f"train.lr must be positive, got {self.lr}")

    @property
    def conv_implementation(self) -> str:
        """stock, im2col or aot: what `conv` means on this device and machine."""
        if self.conv != "auto":
            return self.conv
        if self.device != "CPU":
            return "stock"
        return "aot" if cpu_kernels.available()[0] else "im2col"


@dataclasses.dataclass
class TrainResult:
    net: nn.Cell
    test_logits: np.ndarray | None     # only rank 0 evaluates
    summary: dict
    rank: int = 0


def configure(device: str, seed: int) -> tuple[int, int]:
    """Device, graph mode and seeds; under msrun also the collective. Returns (rank, number of workers)."""
    ms.set_device(device)
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_seed(seed)
    ds.config.set_seed(seed)
    return distributed.init() if distributed.is_worker() else (0, 1)


def mnist_dataset(folder: Path, usage: str, batch_size: int, shard: tuple[int, int] = (0, 1)) -> ds.Dataset:
    """The model zoo's pipeline, in file order: 28->32 bilinear, x/255, (x-MEAN)/STD, HWC->CHW; int32 labels.

    `shard` = (rank, workers): this worker's part of the split (MindSpore's dataset sharding).
    """
    rank, workers = shard
    sharding = {"num_shards": workers, "shard_id": rank} if workers > 1 else {}
    dataset = ds.MnistDataset(str(folder), usage=usage, shuffle=False, **sharding)
    image_ops = [
        vision.Resize((INPUT_SIZE, INPUT_SIZE), interpolation=vision.Inter.LINEAR),
        vision.Rescale(1.0 / 255.0, 0.0),
        vision.Rescale(1 / STD, -MEAN / STD),
        vision.HWC2CHW(),
    ]
    dataset = dataset.map(operations=transforms.TypeCast(ms.int32), input_columns="label")
    dataset = dataset.map(operations=image_ops, input_columns="image")
    return dataset.batch(batch_size)


def load_split(folder: Path, usage: str, shard: tuple[int, int] = (0, 1)) -> tuple[np.ndarray, np.ndarray]:
    """A whole split (or shard) through the zoo's pipeline, in order: float32 N x 1 x 32 x 32, int32 labels."""
    images, labels = [], []
    dataset = mnist_dataset(folder, usage, 1024, shard=shard)
    for batch_images, batch_labels in dataset.create_tuple_iterator(num_epochs=1, output_numpy=True):
        images.append(batch_images)
        labels.append(batch_labels)
    return np.concatenate(images), np.concatenate(labels)


def predict(net: nn.Cell, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    net.set_train(False)
    logits = [net(ms.Tensor(images[i:i + batch_size])).asnumpy() for i in range(0, len(images), batch_size)]
    net.set_train(True)
    return np.concatenate(logits)


def weights_digest(net: nn.Cell) -> str:
    """SHA-256 over all parameters: equal on every worker of a data-parallel run."""
    digest = hashlib.sha256()
    for parameter in net.get_parameters():
        digest.update(parameter.asnumpy().tobytes())
    return digest.hexdigest()


def train(data_dir: Path, params: TrainParams, on_epoch=None) -> TrainResult:
    """Train from scratch (on this worker's shard under msrun).

    On rank 0, `on_epoch(epoch, {"loss": ..., "accuracy": ...})` is called after every epoch.
    """
    rank, workers = configure(params.device, params.seed)
    lead = rank == 0
    train_images, train_labels = load_split(Path(data_dir) / "train", "train", shard=(rank, workers))
    test_images, test_labels = load_split(Path(data_dir) / "test", "test")
    steps_per_epoch = len(train_labels) // params.batch_size
    if steps_per_epoch == 0:
        raise ValueError(f"train.batch_size {params.batch_size} exceeds the {len(train_labels)} training images "
                         "of a worker")

    if params.conv == "auto" and params.device == "CPU" and lead and not cpu_kernels.available()[0]:
        print(f"note: gather + MatMul convolutions instead of the faster custom kernels: "
              f"{cpu_kernels.available()[1]}", flush=True)
    net = build_lenet5(params.conv_implementation)
    loss_fn = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    optimizer = nn.Momentum(net.trainable_params(), learning_rate=params.lr * workers, momentum=params.momentum)
    step = nn.TrainOneStepCell(nn.WithLossCell(net, loss_fn), optimizer)
    step.set_train(True)
    # compile the training graph up front, so images_per_second measures training, not compilation
    step.compile(ms.Tensor(train_images[:params.batch_size]), ms.Tensor(train_labels[:params.batch_size]))
    shuffle = np.random.default_rng([params.seed, rank])

    train_seconds = 0.0
    for epoch in range(1, params.epochs + 1):
        start = time.perf_counter()
        order = shuffle.permutation(len(train_labels))[:steps_per_epoch * params.batch_size]
        # one shuffled copy per epoch, so every batch is a contiguous slice handed over without copying
        images = train_images[order].reshape(steps_per_epoch, params.batch_size, *train_images.shape[1:])
        labels = train_labels[order].reshape(steps_per_epoch, params.batch_size)
        losses = [step(ms.Tensor.from_numpy(images[i]), ms.Tensor.from_numpy(labels[i]))
                  for i in tqdm(range(steps_per_epoch), desc=f"epoch {epoch}/{params.epochs}", unit="step",
                                mininterval=0.5, disable=not lead)]
        loss = float(np.mean([loss.asnumpy() for loss in losses]))
        train_seconds += time.perf_counter() - start
        if not lead:
            continue
        logits = predict(net, test_images)
        accuracy = float(np.mean(logits.argmax(axis=1) == test_labels))
        tqdm.write(f"epoch {epoch}: loss {loss:.4f}  test accuracy {accuracy:.4f}")
        if on_epoch:
            on_epoch(epoch, {"loss": loss, "accuracy": accuracy})

    print(f"rank {rank} of {workers}: weights sha256 {weights_digest(net)}", flush=True)
    if not lead:
        return TrainResult(net, None, {}, rank)
    images_seen = params.epochs * steps_per_epoch * params.batch_size * workers
    summary = {
        "loss": loss,
        "accuracy": accuracy,
        "epochs": params.epochs,
        "steps_per_epoch": steps_per_epoch,
        "train_images": steps_per_epoch * params.batch_size * workers,
        "test_images": len(test_labels),
        "conv": params.conv_implementation,
        "workers": workers,
        "images_per_second": images_seen / train_seconds,
        "train_seconds": train_seconds,
    }
    return TrainResult(net, logits, summary, rank)
