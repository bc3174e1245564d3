import gzip

import numpy as np
import pytest

from lenet5 import idx


def test_round_trip_images_and_labels(tmp_path, mnist_like):
    images, labels = mnist_like
    idx.write_split(tmp_path, "test", images, labels)
    read_images, read_labels = idx.read_split(tmp_path, "test")
    np.testing.assert_array_equal(read_images, images)
    np.testing.assert_array_equal(read_labels, labels)
    assert (tmp_path / "t10k-images-idx3-ubyte").read_bytes()[:4] == b"\x00\x00\x08\x03"


def test_reads_gzipped(tmp_path, mnist_like):
    images, _ = mnist_like
    path = tmp_path / "images.gz"
    path.write_bytes(gzip.compress(idx.encode(images)))
    np.testing.assert_array_equal(idx.read(path), images)


@pytest.mark.parametrize("mangle, message", [
    (lambda raw: b"\x00\x00\x09" + raw[3:], "not an uint8 idx"),
    (lambda raw: b"PK\x03\x04" + raw[4:], "not an uint8 idx"),
    (lambda raw: raw[:-7], "truncated or corrupt"),
    (lambda raw: raw[:6], "truncated header"),
    (lambda raw: b"", "magic missing"),
])
def test_corrupt_files_are_named(tmp_path, mnist_like, mangle, message):
    path = tmp_path / "broken-idx3-ubyte"
    path.write_bytes(mangle(idx.encode(mnist_like[0])))
    with pytest.raises(idx.IdxError, match=message) as err:
        idx.read(path)
    assert str(path) in str(err.value)


def test_truncated_gzip_is_an_idx_error(tmp_path, mnist_like):
    path = tmp_path / "images.gz"
    path.write_bytes(gzip.compress(idx.encode(mnist_like[0]))[:-20])
    with pytest.raises(idx.IdxError, match="images.gz"):
        idx.read(path)


def test_label_count_mismatch(tmp_path, mnist_like):
    images, labels = mnist_like
    idx.write(tmp_path / "train-images-idx3-ubyte", images)
    idx.write(tmp_path / "train-labels-idx1-ubyte", labels[:-1])
    with pytest.raises(idx.IdxError, match="20 images but 19 labels"):
        idx.read_split(tmp_path, "train")


def test_label_out_of_range(tmp_path, mnist_like):
    images, labels = mnist_like
    with pytest.raises(idx.IdxError, match="out of range"):
        idx.write_split(tmp_path, "train", images, labels + 1)
