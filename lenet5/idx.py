"""MNIST's idx file format: read, validate and write (numpy only).

Layout: 2 zero bytes, a dtype code (0x08 = uint8), the number of dims, each dim as a big-endian uint32,
then the data. Images are idx3 (N x 28 x 28), labels idx1 (N).
"""

import gzip
from pathlib import Path

import numpy as np

from lenet5.errors import UserError

UBYTE = 0x08
IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801

# File names MindSpore's MnistDataset (and torchvision, TF...) look for in a split folder.
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class IdxError(UserError, ValueError):
    """An idx file that cannot be what it claims to be."""


def encode(array: np.ndarray) -> bytes:
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, UBYTE, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()


def decode(raw: bytes, name: str = "idx data") -> np.ndarray:
    if len(raw) < 4 or raw[0:2] != b"\0\0" or raw[2] != UBYTE or raw[3] not in (1, 3):
        raise IdxError(f"{name}: not an uint8 idx1/idx3 file (magic {raw[:4].hex() or 'missing'}); "
                       "re-download it or check the mirror")
    ndim = raw[3]
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise IdxError(f"{name}: truncated header ({len(raw)} bytes); re-download it")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = header_size + int(np.prod(shape))
    if len(raw) != expected:
        raise IdxError(f"{name}: {len(raw)} bytes but the header {shape} needs {expected}; "
                       "the file is truncated or corrupt, re-download it")
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(shape)


def read(path: Path) -> np.ndarray:
    """Read an idx file, gzipped (.gz) or not."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as err:
        raise IdxError(f"{path}: cannot read ({err}); re-download it") from err
    return decode(raw, str(path))


def write(path: Path, array: np.ndarray) -> None:
    Path(path).write_bytes(encode(array))


def check_pair(images: np.ndarray, labels: np.ndarray, name: str) -> None:
    if images.ndim != 3 or labels.ndim != 1:
        raise IdxError(f"{name}: expected idx3 images and idx1 labels, got {images.ndim}-d and {labels.ndim}-d")
    if len(images) != len(labels):
        raise IdxError(f"{name}: {len(images)} images but {len(labels)} labels; re-download the split")
    if labels.size and labels.max() > 9:
        raise IdxError(f"{name}: label {labels.max()} out of range 0-9")


def read_split(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (N x 28 x 28 uint8) and labels (N uint8) of one split folder written by write_split."""
    image_file, label_file = SPLIT_FILES[split]
    images = read(Path(folder) / image_file)
    labels = read(Path(folder) / label_file)
    check_pair(images, labels, f"{folder} ({split})")
    return images, labels


def write_split(folder: Path, split: str, images: np.ndarray, labels: np.ndarray) -> None:
    check_pair(images, labels, f"{folder} ({split})")
    image_file, label_file = SPLIT_FILES[split]
    Path(folder).mkdir(parents=True, exist_ok=True)
    write(Path(folder) / image_file, images)
    write(Path(folder) / label_file, labels)
