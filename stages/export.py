"""Stage export: models/lenet.ckpt -> models/lenet.{mindir,onnx[,air]} (params `export`)."""

import mindspore as ms

from lenet5 import params
from lenet5.export import ExportParams, export, load_checkpoint
from stages import CHECKPOINT, MODELS_DIR, run


def main():
    p = params.load(ExportParams, "export")
    ms.set_device(p.device)
    ms.set_context(mode=ms.GRAPH_MODE)
    net = load_checkpoint(CHECKPOINT)
    for fmt in p.formats:
        destination = MODELS_DIR / f"lenet.{fmt}"
        export(net, fmt, destination, p.batch_size)
        print(f"wrote {destination} ({destination.stat().st_size:,} bytes)")


if __name__ == "__main__":
    run(main)
