"""Exporting a checkpoint to deployable graphs: MINDIR and ONNX anywhere, AIR on Ascend only."""

import dataclasses
from pathlib import Path

import mindspore as ms
import mindspore.onnx
import numpy as np
import onnx

from lenet5.contract import INPUT_NAME, INPUT_SHAPE
from lenet5.files import atomic_path
from lenet5.model import LeNet5

FORMATS = {"mindir": "MINDIR", "onnx": "ONNX", "air": "AIR"}
OUTPUT_NAME = "logits"
BATCH_AXIS = "N"


@dataclasses.dataclass
class ExportParams:
    formats: list[str] = dataclasses.field(default_factory=lambda: ["mindir", "onnx"])
    batch_size: int = 1        # MINDIR/AIR are fixed-shape; ONNX gets a dynamic batch axis
    device: str = "CPU"

    def check(self):
        unknown = [f for f in self.formats if f not in FORMATS]
        if unknown or not self.formats:
            raise ValueError(f"export.formats {self.formats} must be a non-empty list of: {', '.join(FORMATS)}")
        if "air" in self.formats and self.device != "Ascend":
            raise ValueError(
                f"export.formats asks for 'air', which MindSpore can only export on its Ascend backend "
                f"(export.device is {self.device!r}); drop 'air' or export on an Ascend machine with "
                "export.device: Ascend. The .om route from ONNX needs no AIR (convert.target: ascend-om)")
        if self.batch_size < 1:
            raise ValueError(f"export.batch_size must be at least 1, got {self.batch_size}")


def load_checkpoint(path: Path) -> LeNet5:
    """The model zoo's LeNet5 with the checkpoint's weights; every parameter must be found."""
    net = LeNet5()
    missing, _ = ms.load_param_into_net(net, ms.load_checkpoint(str(path)), strict_load=True)
    if missing:
        raise ValueError(f"{path}: checkpoint lacks parameters {missing}; was it trained for LeNet5?")
    net.set_train(False)
    return net


def _make_batch_dynamic(path: Path) -> None:
    """Give the ONNX output the same symbolic batch axis as its input (MindSpore leaves it fixed)."""
    model = onnx.load(str(path))
    model.graph.output[0].type.tensor_type.shape.dim[0].dim_param = BATCH_AXIS
    del model.graph.value_info[:]
    model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))


def export(net: LeNet5, fmt: str, destination: Path, batch_size: int) -> None:
    """Write `net` as `fmt` to `destination` (the exact file name), atomically."""
    dummy = ms.Tensor(np.zeros((batch_size, *INPUT_SHAPE), np.float32))
    suffix = "." + fmt
    with atomic_path(destination) as tmp:
        stem = tmp.with_suffix("")         # MindSpore appends the format's suffix itself
        if fmt == "onnx":
            mindspore.onnx.export(net, dummy, file_name=str(stem) + suffix, input_names=[INPUT_NAME],
                                  output_names=[OUTPUT_NAME], dynamic_axes={INPUT_NAME: {0: BATCH_AXIS}})
            _make_batch_dynamic(tmp)
        else:
            ms.export(net, dummy, file_name=str(stem), file_format=FORMATS[fmt])
        if not tmp.is_file() or tmp.stat().st_size == 0:
            raise RuntimeError(f"MindSpore wrote no {fmt} file for {destination}")
