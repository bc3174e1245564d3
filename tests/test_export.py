import mindspore as ms
import numpy as np
import onnx
import pytest
from mindspore import nn

from lenet5.backends import open_backend
from lenet5.export import export, load_checkpoint
from lenet5.model import LeNet5


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    ms.set_device("CPU")
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_seed(5)
    path = tmp_path_factory.mktemp("ckpt") / "lenet.ckpt"
    ms.save_checkpoint(LeNet5(), str(path))
    return path


@pytest.fixture
def batch():
    return np.random.default_rng(0).normal(size=(3, 1, 32, 32)).astype(np.float32)


def test_onnx_has_a_dynamic_batch_and_matches_mindspore(checkpoint, tmp_path, batch):
    net = load_checkpoint(checkpoint)
    export(net, "onnx", tmp_path / "lenet.onnx", batch_size=1)
    graph = onnx.load(str(tmp_path / "lenet.onnx")).graph
    assert graph.input[0].name == "x"
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"
    assert graph.output[0].type.tensor_type.shape.dim[0].dim_param == "N"
    assert [n.op_type for n in graph.node].count("Conv") == 2
    logits = open_backend(tmp_path / "lenet.onnx").run(batch)
    np.testing.assert_allclose(logits, net(ms.Tensor(batch)).asnumpy(), atol=1e-5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lenet.onnx"]


def test_mindir_matches_the_checkpoint(checkpoint, tmp_path, batch):
    net = load_checkpoint(checkpoint)
    export(net, "mindir", tmp_path / "lenet.mindir", batch_size=3)
    graph = nn.GraphCell(ms.load(str(tmp_path / "lenet.mindir")))
    np.testing.assert_allclose(graph(ms.Tensor(batch)).asnumpy(), net(ms.Tensor(batch)).asnumpy(), atol=1e-6)


def test_air_fails_off_ascend_and_leaves_nothing(checkpoint, tmp_path):
    with pytest.raises(Exception, match="(?i)ascend"):
        export(load_checkpoint(checkpoint), "air", tmp_path / "lenet.air", batch_size=1)
    assert list(tmp_path.iterdir()) == []


def test_a_foreign_checkpoint_is_refused(tmp_path):
    from mindspore.common.initializer import Normal

    class Other(nn.Cell):
        def __init__(self):
            super().__init__()
            self.dense = nn.Dense(4, 2, weight_init=Normal(0.02))

        def construct(self, x):
            return self.dense(x)

    ms.save_checkpoint(Other(), str(tmp_path / "other.ckpt"))
    with pytest.raises(Exception, match="conv1|fc1|not loaded|lacks"):
        load_checkpoint(tmp_path / "other.ckpt")
