"""ONNX Runtime on the CPU."""

from pathlib import Path

import numpy as np
import onnxruntime as ort


class OnnxRuntimeBackend:
    name = "onnxruntime"

    def __init__(self, path: Path, threads: int = 0):
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        # the model was already optimised offline by the convert stage
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as err:   # ORT raises its own exception types for bad files
            raise ValueError(f"{path}: ONNX Runtime cannot load it ({str(err).splitlines()[0]})") from err
        model_input = self.session.get_inputs()[0]
        self.input_name = model_input.name
        batch = model_input.shape[0]
        self.batch_size = batch if isinstance(batch, int) else None

    def run(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: np.ascontiguousarray(batch, np.float32)})[0]

    def close(self) -> None:
        self.session = None
