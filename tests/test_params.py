import pytest

from lenet5 import params
from lenet5.data import DataParams
from lenet5.export import ExportParams
from lenet5.train import TrainParams


def write(tmp_path, text):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    return path


def test_loads_a_section(tmp_path):
    p = params.load(TrainParams, "train", write(tmp_path, "train: {epochs: 3, lr: 1}\n"))
    assert p.epochs == 3 and p.lr == 1 and p.batch_size == 32


@pytest.mark.parametrize("text, message", [
    ("train: {epoch: 3}\n", r"unknown key train.epoch; valid keys: epochs, "),
    ("train: {epochs: three}\n", r"train.epochs must be int, got 'three'"),
    ("train: {epochs: 2.5}\n", r"train.epochs must be int"),
    ("train: {epochs: 0}\n", r"train.epochs must be at least 1"),
    ("train: {device: TPU}\n", r"train.device 'TPU' is unknown; valid devices: CPU, GPU, Ascend"),
    ("data: {}\n", r"section 'train' is missing"),
    ("train: [1, 2\n", r"cannot read it"),
])
def test_bad_params_name_the_key(tmp_path, text, message):
    with pytest.raises(params.ParamsError, match=message):
        params.load(TrainParams, "train", write(tmp_path, text))


def test_list_items_are_type_checked(tmp_path):
    with pytest.raises(params.ParamsError, match="data.mirrors must be"):
        params.load(DataParams, "data", write(tmp_path, "data: {mirrors: [1, 2]}\n"))


def test_air_off_ascend_is_an_error_not_a_skip(tmp_path):
    with pytest.raises(params.ParamsError, match="'air'.*Ascend backend"):
        params.load(ExportParams, "export", write(tmp_path, "export: {formats: [onnx, air], device: CPU}\n"))


def test_the_committed_params_file_is_valid():
    from lenet5.convert import ConvertParams
    from lenet5.evaluate import EvaluateParams

    for cls, section in [(DataParams, "data"), (TrainParams, "train"), (ExportParams, "export"),
                         (ConvertParams, "convert"), (EvaluateParams, "evaluate")]:
        params.load(cls, section)
