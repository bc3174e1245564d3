"""Stage train: data/mnist -> models/lenet.ckpt, the checkpoint's test logits, metrics/train.json + curves.

With train.workers > 1 the stage re-runs itself under msrun, one process per worker; rank 0 writes the outputs.
"""

import contextlib
import time

import mindspore as ms
import numpy as np
from dvclive import Live

from lenet5 import distributed, params
from lenet5.files import atomic_path, write_json
from lenet5.train import TrainParams, train
from stages import CHECKPOINT, CHECKPOINT_LOGITS, DATA_DIR, METRICS_DIR, run


def main():
    p = params.load(TrainParams, "train")
    if p.workers > 1 and not distributed.is_worker():
        distributed.launch(p.workers, __file__, p.master_port)
        return
    start = time.perf_counter()
    with contextlib.ExitStack() as stack:
        live = None

        def log_epoch(epoch, values):            # called on rank 0 only
            nonlocal live
            if live is None:
                live = stack.enter_context(
                    Live(dir=str(METRICS_DIR / "train"), dvcyaml=None, save_dvc_exp=False, report=None))
            for name, value in values.items():
                live.log_metric(name, value, plot=True)
            live.next_step()

        result = train(DATA_DIR, p, on_epoch=log_epoch)
    if result.rank != 0:
        return
    with atomic_path(CHECKPOINT) as tmp:
        ms.save_checkpoint(result.net, str(tmp))
    with atomic_path(CHECKPOINT_LOGITS) as tmp, open(tmp, "wb") as f:
        np.save(f, result.test_logits)
    summary = {**result.summary, "wall_seconds": time.perf_counter() - start}
    write_json(METRICS_DIR / "train.json", summary)
    print(f"test accuracy {summary['accuracy']:.4f}, {summary['images_per_second']:.0f} images/s")


if __name__ == "__main__":
    run(main)
