"""Stage export: models/lenet.ckpt -> models/export/lenet.{mindir,onnx[,air]} (params `export`)."""

import mindspore as ms

from lenet5 import params
from lenet5.export import ExportParams, export, load_checkpoint
from lenet5.files import atomic_path
from stages import CHECKPOINT, EXPORT_DIR, run


def main():
    p = params.load(ExportParams, "export")
    ms.set_device(p.device)
    ms.set_context(mode=ms.GRAPH_MODE)
    net = load_checkpoint(CHECKPOINT)
    with atomic_path(EXPORT_DIR, directory=True) as tmp:
        for fmt in p.formats:
            export(net, fmt, tmp / f"lenet.{fmt}", p.batch_size)
            print(f"wrote {EXPORT_DIR}/lenet.{fmt} ({(tmp / f'lenet.{fmt}').stat().st_size:,} bytes)")


if __name__ == "__main__":
    run(main)
