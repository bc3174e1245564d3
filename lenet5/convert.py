"""The offline-model compiler step (ATC's role): ONNX -> ONNX Runtime optimised model, or -> Ascend .om via ATC."""

import dataclasses
import shlex
import shutil
import subprocess
from pathlib import Path

import onnx
import onnxruntime as ort

from lenet5.contract import INPUT_NAME, INPUT_SHAPE
from lenet5.errors import UserError
from lenet5.files import atomic_path

TARGETS = ("onnxruntime", "ascend-om")
ORT_LEVELS = {
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    # extended fuses operators but, unlike "all", adds no layout changes tied to this CPU's instruction set
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
}
# The deployable model's file name inside the convert stage's output folder, by target.
MODEL_FILES = {"onnxruntime": "lenet.onnx", "ascend-om": "lenet.om"}


class ConvertError(UserError):
    pass


@dataclasses.dataclass
class ConvertParams:
    target: str = "onnxruntime"
    ort_optimization: str = "extended"
    soc_version: str = "Ascend310"
    atc_input: str = "onnx"        # onnx (--framework=5) or air (--framework=1)
    batch_size: int = 1            # the .om's fixed batch

    def check(self):
        if self.target not in TARGETS:
            raise ValueError(f"convert.target {self.target!r} is unknown; valid targets: {', '.join(TARGETS)}")
        if self.ort_optimization not in ORT_LEVELS:
            raise ValueError(f"convert.ort_optimization must be one of {', '.join(ORT_LEVELS)}")
        if self.atc_input not in ("onnx", "air"):
            raise ValueError("convert.atc_input must be onnx or air")


def optimize_for_onnxruntime(source: Path, destination: Path, level: str) -> None:
    """Let ONNX Runtime apply its graph optimisations once, offline, and save the result."""
    with atomic_path(destination) as tmp:
        options = ort.SessionOptions()
        options.graph_optimization_level = ORT_LEVELS[level]
        options.optimized_model_filepath = str(tmp)
        ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])


def atc_command(model: Path, output_stem: Path, params: ConvertParams) -> list[str]:
    """The ATC command line (CANN's offline model compiler); ATC appends .om to `output_stem`."""
    command = ["atc", f"--model={model}", f"--output={output_stem}", f"--soc_version={params.soc_version}"]
    if params.atc_input == "air":
        return command + ["--framework=1"]     # AIR carries its own input shape
    shape = ",".join(str(d) for d in (params.batch_size, *INPUT_SHAPE))
    return command + ["--framework=5", f"--input_shape={INPUT_NAME}:{shape}"]


def compile_with_atc(model: Path, destination: Path, params: ConvertParams) -> None:
    if shutil.which("atc") is None:
        raise ConvertError(
            "convert.target ascend-om needs CANN's `atc` on PATH: install the CANN toolkit and "
            "`source $HOME/Ascend/ascend-toolkit/set_env.sh`, or use convert.target: onnxruntime")
    if not model.is_file():
        raise ConvertError(f"{model}: missing; run the export stage with that format in export.formats")
    with atomic_path(destination) as tmp:
        command = atc_command(model, tmp.with_suffix(""), params)
        print("running:", shlex.join(command), flush=True)
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            tail = (result.stdout + result.stderr).strip().splitlines()[-5:]
            raise ConvertError(f"atc failed with exit code {result.returncode}: {' | '.join(tail)}")
        if not tmp.is_file() or tmp.stat().st_size == 0:
            raise ConvertError(f"atc exited 0 but wrote no {tmp.with_suffix('').name}.om")


def describe(path: Path, target: str) -> dict:
    """Target, file size and (for ONNX) the operator count of a deployable model."""
    summary = {"target": target, "file": path.name, "size_bytes": path.stat().st_size}
    if path.suffix == ".onnx":
        graph = onnx.load(str(path)).graph
        summary["operators"] = len(graph.node)
        summary["operator_types"] = sorted({node.op_type for node in graph.node})
    return summary
