"""Inference runtimes behind one interface: open a model file, run a float32 N x 1 x 32 x 32 batch, get logits.

Backends are picked by the model's file suffix and imported lazily, so a board needs only its own runtime.
"""

from pathlib import Path
from typing import Protocol

import numpy as np

from lenet5.errors import UserError


class Backend(Protocol):
    name: str
    batch_size: int | None     # a fixed batch the model requires, or None for any

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Logits (N x classes, float32) for a float32 N x 1 x 32 x 32 batch."""

    def close(self) -> None: ...


class ModelNotFound(UserError, FileNotFoundError):
    pass


SUFFIXES = {".onnx": "onnxruntime", ".ort": "onnxruntime", ".om": "acl"}


def open_backend(path: Path, threads: int = 0) -> Backend:
    """The backend for a model file; `threads` = 0 lets the runtime choose."""
    path = Path(path)
    if not path.is_file():
        raise ModelNotFound(f"{path}: model not found; run `make repro` (the convert stage writes it)")
    kind = SUFFIXES.get(path.suffix)
    if kind == "onnxruntime":
        from lenet5.backends.onnxruntime import OnnxRuntimeBackend
        return OnnxRuntimeBackend(path, threads=threads)
    if kind == "acl":
        from lenet5.backends.acl import AclBackend
        return AclBackend(path)
    raise ValueError(f"{path}: unknown model type; expected one of {', '.join(SUFFIXES)}")


def run_batches(backend: Backend, inputs: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Logits for any number of inputs, in batches the backend accepts (padding a fixed-batch model)."""
    step = backend.batch_size or batch_size
    outputs = []
    for start in range(0, len(inputs), step):
        chunk = inputs[start:start + step]
        if backend.batch_size and len(chunk) < step:
            padding = np.zeros((step - len(chunk), *chunk.shape[1:]), chunk.dtype)
            outputs.append(backend.run(np.concatenate([chunk, padding]))[:len(chunk)])
        else:
            outputs.append(backend.run(chunk))
    return np.concatenate(outputs) if outputs else np.zeros((0, 0), np.float32)
