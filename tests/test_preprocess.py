import cv2
import numpy as np
import pytest

from lenet5 import contract, preprocess
from lenet5.data import load_mnist_5k


@pytest.fixture(scope="module")
def digit():
    images, labels = load_mnist_5k()
    return images[int(np.flatnonzero(labels == 7)[0])]


def test_the_seed_constants():
    assert (contract.MEAN, contract.STD, contract.INPUT_SIZE, contract.IMAGE_SIZE) == (0.1307, 0.3081, 32, 28)


def test_normalize_is_the_seed_formula():
    flat = np.full((28, 28), 200 / 255, np.float32)
    out = preprocess.normalize(flat)
    assert out.shape == (1, 32, 32) and out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_allclose(out, (200 / 255 - 0.1307) / 0.3081, rtol=1e-6)


def test_normalize_then_resize_equals_training_order(digit):
    """The app normalises before resizing, training resizes first: the same linear map up to rounding."""
    app = preprocess.normalize(digit / 255.0)
    resized = cv2.resize(digit.astype(np.float32), (32, 32), interpolation=cv2.INTER_LINEAR)
    training = ((resized / 255.0 - contract.MEAN) / contract.STD)[np.newaxis]
    np.testing.assert_allclose(app, training, atol=1e-5)


def test_mnist_crops_go_straight_through(digit):
    np.testing.assert_allclose(preprocess.prepare(digit), preprocess.normalize(digit / 255.0), atol=1e-6)


def _scan_of(digit, size=240, seed=0):
    """A photo-like scan: dark ink on light, noisy paper, larger and off-centre, in colour."""
    rng = np.random.default_rng(seed)
    big = cv2.resize(digit, (size // 2, size // 2), interpolation=cv2.INTER_CUBIC)
    page = np.zeros((size, size), np.float32)
    page[20:20 + size // 2, 60:60 + size // 2] = big
    paper = 230 - page * 0.8 + rng.normal(0, 4, page.shape)
    gray = np.clip(paper, 0, 255).astype(np.uint8)
    return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)


def _similarity(a, b):
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_dark_on_light_scan_is_inverted_and_framed(digit):
    scan = _scan_of(digit)
    assert preprocess.is_light_background(preprocess.to_gray(scan))
    assert _similarity(preprocess.prepare(scan), preprocess.prepare(digit)) > 0.9


def test_light_background_28px_is_inverted(digit):
    inverted = 255 - digit
    assert _similarity(preprocess.prepare(inverted), preprocess.prepare(digit)) > 0.9


def test_sixteen_bit_equals_eight_bit(digit):
    sixteen = digit.astype(np.uint16) * 257
    np.testing.assert_allclose(preprocess.prepare(sixteen), preprocess.prepare(digit), atol=1e-5)


def test_alpha_ink_on_transparent_background(digit):
    """Black strokes drawn only through the alpha channel (a typical exported drawing)."""
    rgba = np.zeros((28, 28, 4), np.uint8)
    rgba[..., 3] = digit
    assert _similarity(preprocess.prepare(rgba), preprocess.prepare(digit)) > 0.9


def test_blank_page_does_not_crash():
    out = preprocess.prepare(np.full((50, 80, 3), 255, np.uint8))
    assert out.shape == (1, 32, 32) and np.isfinite(out).all()


def test_batch_matches_single_images(digit):
    batch = preprocess.prepare_batch(np.stack([digit, 255 - digit]))
    np.testing.assert_array_equal(batch[0], preprocess.prepare(digit))
    assert batch.shape == (2, 1, 32, 32)


@pytest.mark.parametrize("content, message", [
    (b"", "empty file"),
    (b"just some text\n", "not a readable image"),
])
def test_unreadable_files_are_named(tmp_path, content, message):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(preprocess.ImageError, match=f"{path}: {message}"):
        preprocess.read_image(path)


def test_truncated_png_is_refused(tmp_path, digit):
    path = tmp_path / "cut.png"
    path.write_bytes(cv2.imencode(".png", digit)[1].tobytes()[:120])
    with pytest.raises(preprocess.ImageError, match="cut.png"):
        preprocess.read_image(path)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(preprocess.ImageError, match="nothere.png: cannot read"):
        preprocess.read_image(tmp_path / "nothere.png")
