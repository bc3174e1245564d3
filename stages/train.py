"""Stage train: data/mnist -> models/lenet.ckpt, the checkpoint's test logits, metrics/train.json + curves."""

import time

import mindspore as ms
import numpy as np
from dvclive import Live

from lenet5 import params
from lenet5.files import atomic_path, write_json
from lenet5.train import TrainParams, train
from stages import CHECKPOINT, CHECKPOINT_LOGITS, DATA_DIR, METRICS_DIR, run


def main():
    p = params.load(TrainParams, "train")
    start = time.perf_counter()
    with Live(dir=str(METRICS_DIR / "train"), dvcyaml=None, save_dvc_exp=False, report=None) as live:
        def log_epoch(epoch, values):
            for name, value in values.items():
                live.log_metric(name, value, plot=True)
            live.next_step()

        net, test_logits, summary = train(DATA_DIR, p, on_epoch=log_epoch)
    with atomic_path(CHECKPOINT) as tmp:
        ms.save_checkpoint(net, str(tmp))
    with atomic_path(CHECKPOINT_LOGITS) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, test_logits)
    summary["wall_seconds"] = time.perf_counter() - start
    write_json(METRICS_DIR / "train.json", summary)
    print(f"test accuracy {summary['accuracy']:.4f}, {summary['images_per_second']:.0f} images/s")


if __name__ == "__main__":
    run(main)
