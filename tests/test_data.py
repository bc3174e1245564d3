import gzip
import hashlib

import numpy as np
import pytest

from lenet5 import data, idx


def test_mnist_5k_is_the_shipped_real_subset():
    images, labels = data.load_mnist_5k()
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [500] * 10
    assert 0 < images.mean() < 60          # light digits on a black background, like MNIST


def test_split_is_deterministic_and_stratified():
    labels = np.repeat(np.arange(10), 50)
    train_a, test_a = data.stratified_split(labels, 0.2, seed=3)
    train_b, test_b = data.stratified_split(labels, 0.2, seed=3)
    np.testing.assert_array_equal(test_a, test_b)
    np.testing.assert_array_equal(train_a, train_b)
    assert np.bincount(labels[test_a]).tolist() == [10] * 10
    assert set(train_a).isdisjoint(test_a) and len(train_a) + len(test_a) == len(labels)
    _, test_c = data.stratified_split(labels, 0.2, seed=4)
    assert not np.array_equal(test_a, test_c)


def test_unknown_source_lists_the_valid_ones():
    with pytest.raises(data.DataError, match="valid sources: mnist-5k, mnist"):
        data.load_splits("emnist", 0.2, 0, [])


def _mirror(folder, files):
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return folder


def test_fetch_skips_a_bad_mirror_and_takes_a_good_one(tmp_path):
    good = b"the real bytes"
    bad_mirror = _mirror(tmp_path / "bad", {"f.gz": b"tampered bytes"})
    good_mirror = _mirror(tmp_path / "good", {"f.gz": good})
    dest = tmp_path / "dest"
    dest.mkdir()
    path = data.fetch_verified("f.gz", hashlib.md5(good).hexdigest(),
                               [bad_mirror.as_uri(), str(tmp_path / "missing"), good_mirror.as_uri()], dest)
    assert path.read_bytes() == good


def test_fetch_fails_clearly_when_no_mirror_has_the_right_file(tmp_path):
    bad_mirror = _mirror(tmp_path / "bad", {"f.gz": b"tampered"})
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(data.DataError, match="MD5 .* != expected .*mnist-5k") as err:
        data.fetch_verified("f.gz", "0" * 32, [bad_mirror.as_uri()], dest)
    assert "\n" not in str(err.value)
    assert not (dest / "f.gz").exists()


def test_no_network_names_the_offline_source(tmp_path):
    with pytest.raises(data.DataError, match="data.source: mnist-5k"):
        data.fetch_verified("f.gz", "0" * 32, ["http://127.0.0.1:9/mnist/"], tmp_path, timeout=2)


def test_full_mnist_from_a_local_mirror(tmp_path, monkeypatch, mnist_like):
    images, labels = mnist_like
    contents = {
        "train-images-idx3-ubyte.gz": gzip.compress(idx.encode(images)),
        "train-labels-idx1-ubyte.gz": gzip.compress(idx.encode(labels)),
        "t10k-images-idx3-ubyte.gz": gzip.compress(idx.encode(images[:10])),
        "t10k-labels-idx1-ubyte.gz": gzip.compress(idx.encode(labels[:10])),
    }
    monkeypatch.setattr(data, "MNIST_FILES", {name: hashlib.md5(c).hexdigest() for name, c in contents.items()})
    mirror = _mirror(tmp_path / "mirror", contents)
    splits = data.load_splits("mnist", 0.2, 0, [str(mirror)])
    np.testing.assert_array_equal(splits["train"][0], images)
    np.testing.assert_array_equal(splits["test"][1], labels[:10])


def test_full_mnist_with_mismatched_counts_is_refused(tmp_path, monkeypatch, mnist_like):
    images, labels = mnist_like
    contents = {
        "train-images-idx3-ubyte.gz": gzip.compress(idx.encode(images)),
        "train-labels-idx1-ubyte.gz": gzip.compress(idx.encode(labels[:5])),
        "t10k-images-idx3-ubyte.gz": gzip.compress(idx.encode(images)),
        "t10k-labels-idx1-ubyte.gz": gzip.compress(idx.encode(labels)),
    }
    monkeypatch.setattr(data, "MNIST_FILES", {name: hashlib.md5(c).hexdigest() for name, c in contents.items()})
    with pytest.raises(idx.IdxError, match="20 images but 5 labels"):
        data.load_splits("mnist", 0.2, 0, [str(_mirror(tmp_path / "m", contents))])


def test_the_official_checksums_are_the_published_ones():
    assert data.MNIST_FILES["train-images-idx3-ubyte.gz"] == "f68b3c2dcbeaaa9fbdd348bbdeb94873"
    assert data.MNIST_FILES["t10k-labels-idx1-ubyte.gz"] == "ec29112dd5afa0611ce80d1b7f02629c"


def test_samples_take_the_first_of_each_class():
    labels = np.array([3, 1, 3, 0, 1, 2, 4, 5, 6, 7, 8, 9])
    assert data.sample_indices(labels, 1) == [0, 1, 3, 5, 6, 7, 8, 9, 10, 11]
