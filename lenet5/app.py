"""The inference app: classify digit images with a deployed model and print each image's top-5.

Needs only numpy, OpenCV and the model's runtime (ONNX Runtime here, pyACL on an Ascend board).
"""

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lenet5.backends import Backend, run_batches
from lenet5.contract import CLASS_NAMES
from lenet5.preprocess import ImageError, prepare, read_image

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp"}
DEPLOY_DIR = Path("models/deploy")


@dataclass
class Prediction:
    path: Path
    probabilities: np.ndarray

    def top(self, k: int = 5) -> list[tuple[str, float]]:
        order = np.argsort(-self.probabilities, kind="stable")[:k]
        return [(CLASS_NAMES[i], float(self.probabilities[i])) for i in order]


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def default_model(folder: Path = DEPLOY_DIR) -> Path:
    """The model the convert stage wrote (its folder holds exactly one)."""
    candidates = sorted(p for p in folder.glob("lenet.*") if p.suffix in (".onnx", ".om")) if folder.is_dir() else []
    if not candidates:
        return folder / "lenet.onnx"        # open_backend names the missing file and the stage
    return candidates[0]


def collect_images(paths: list[Path]) -> list[Path]:
    """Files as given, and images (by suffix) inside folders, sorted; a missing path is reported later."""
    found = []
    for path in map(Path, paths):
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES))
        else:
            found.append(path)
    return found


def classify(backend: Backend, paths: list[Path], on_error=None) -> list[Prediction]:
    """Predictions for every readable image; `on_error(ImageError)` hears about the others."""
    readable, inputs = [], []
    for path in paths:
        try:
            inputs.append(prepare(read_image(path)))
            readable.append(path)
        except ImageError as err:
            if on_error:
                on_error(err)
    if not inputs:
        return []
    probabilities = softmax(run_batches(backend, np.stack(inputs)))
    return [Prediction(path, p) for path, p in zip(readable, probabilities)]


def format_top5(prediction: Prediction) -> str:
    lines = [f"{prediction.path}: top-5"]
    lines += [f"  {rank}. class {name}  confidence {p:.6f}" for rank, (name, p) in enumerate(prediction.top(5), 1)]
    return "\n".join(lines)


def write_output(prediction: Prediction, out_dir: Path) -> Path:
    """outputs/<image name>.txt holding the top-1 class, as the reference app writes it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{prediction.path.name}.txt"
    target.write_text(prediction.top(1)[0][0] + "\n")
    return target


def report_error(err: Exception) -> None:
    print(f"error: {err}", file=sys.stderr)
