import mindspore as ms
import numpy as np
import onnx
import pytest

from lenet5 import idx
from lenet5.backends import open_backend
from lenet5.export import export, load_checkpoint
from lenet5.preprocess import prepare_batch
from lenet5.train import TrainParams, mnist_dataset, train


@pytest.fixture(scope="module")
def tiny_mnist(tmp_path_factory):
    from lenet5.data import load_mnist_5k, stratified_split

    images, labels = load_mnist_5k()
    _, keep = stratified_split(labels, 0.04, seed=0)          # 200 images, 20 per class
    folder = tmp_path_factory.mktemp("mnist")
    idx.write_split(folder / "train", "train", images[keep[:160]], labels[keep[:160]])
    idx.write_split(folder / "test", "test", images[keep[160:]], labels[keep[160:]])
    return folder, images[keep[160:]]


def test_training_pipeline_matches_the_apps_preprocessing(tiny_mnist):
    """MindSpore's pipeline (resize, then normalise) and the app's (normalise, then resize) agree."""
    folder, test_images = tiny_mnist
    batch, labels = next(mnist_dataset(folder / "test", "test", 40).create_tuple_iterator())
    assert batch.shape == (40, 1, 32, 32) and batch.dtype == ms.float32 and labels.dtype == ms.int32
    # MindSpore's Resize returns uint8 (rounded) before rescaling; the app resizes floats: < 1 grey level apart
    one_grey_level = 1 / 255 / 0.3081
    np.testing.assert_allclose(batch.asnumpy(), prepare_batch(test_images), atol=one_grey_level)


def test_short_training_is_reproducible_and_loads_into_the_zoo_network(tiny_mnist, tmp_path):
    folder, _ = tiny_mnist
    params = TrainParams(epochs=1, batch_size=32)
    epochs = []
    result = train(folder, params, on_epoch=lambda e, v: epochs.append((e, v)))
    net, logits, summary = result.net, result.test_logits, result.summary
    assert summary["train_images"] == 160 and summary["test_images"] == 40 and logits.shape == (40, 10)
    assert [e for e, _ in epochs] == [1] and np.isfinite(summary["loss"])

    again = train(folder, params)
    assert again.summary["loss"] == summary["loss"]
    np.testing.assert_array_equal(again.test_logits, logits)

    ms.save_checkpoint(net, str(tmp_path / "lenet.ckpt"))
    restored = load_checkpoint(tmp_path / "lenet.ckpt")
    batch, _ = next(mnist_dataset(folder / "test", "test", 40).create_tuple_iterator())
    np.testing.assert_allclose(restored(batch).asnumpy(), logits, atol=1e-5)

    # trained with the custom CPU kernels, exported as a standard convolution graph
    assert summary["conv"] == "aot"
    export(restored, "onnx", tmp_path / "lenet.onnx", batch_size=1)
    assert [node.op_type for node in onnx.load(str(tmp_path / "lenet.onnx")).graph.node].count("Conv") == 2
    np.testing.assert_allclose(open_backend(tmp_path / "lenet.onnx").run(batch.asnumpy()), logits, atol=1e-4)


@pytest.mark.parametrize("conv", ["im2col", "aot"])
def test_stock_and_fast_training_agree(tiny_mnist, conv):
    folder, _ = tiny_mnist
    stock = train(folder, TrainParams(epochs=1, conv="stock"))
    fast = train(folder, TrainParams(epochs=1, conv=conv))
    assert (stock.summary["conv"], fast.summary["conv"]) == ("stock", conv)
    assert abs(stock.summary["loss"] - fast.summary["loss"]) < 1e-4
    np.testing.assert_allclose(fast.test_logits, stock.test_logits, atol=1e-3)
