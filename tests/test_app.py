import cv2
import numpy as np
import pytest

from lenet5 import app
from lenet5.__main__ import main
from lenet5.backends import open_backend
from lenet5.data import load_mnist_5k


@pytest.fixture(scope="module")
def digits():
    images, labels = load_mnist_5k()
    return images[:3], labels[:3]


def test_softmax_rows_sum_to_one():
    p = app.softmax(np.array([[1000.0, 0.0], [1.0, 1.0]]))
    np.testing.assert_allclose(p.sum(axis=1), 1)
    np.testing.assert_allclose(p[1], [0.5, 0.5])


def test_top5_is_sorted_and_formatted(tmp_path):
    probabilities = np.array([0.01, 0.5, 0.02, 0.3, 0.05, 0.04, 0.03, 0.02, 0.02, 0.01])
    prediction = app.Prediction(tmp_path / "img.png", probabilities)
    assert [name for name, _ in prediction.top(5)] == ["1", "3", "4", "5", "6"]
    assert app.format_top5(prediction).splitlines()[1] == "  1. class 1  confidence 0.500000"
    assert app.write_output(prediction, tmp_path / "outputs").read_text() == "1\n"


def test_classify_folder_with_bad_files(tmp_path, onnx_model, digits, capsys):
    images, _ = digits
    folder = tmp_path / "mixed"
    folder.mkdir()
    for i, image in enumerate(images):
        cv2.imwrite(str(folder / f"good{i}.png"), image)
    cv2.imwrite(str(folder / "photo.jpg"), cv2.cvtColor(255 - images[0], cv2.COLOR_GRAY2BGR))
    (folder / "empty.png").write_bytes(b"")
    (folder / "notes.bmp").write_text("not an image")
    (folder / "cut.png").write_bytes(cv2.imencode(".png", images[1])[1].tobytes()[:100])
    (folder / "readme.txt").write_text("ignored: not an image suffix")

    out = tmp_path / "outputs"
    code = main(["classify", str(folder), "--model", str(onnx_model), "--output-dir", str(out)])
    captured = capsys.readouterr()
    assert code == 1
    errors = captured.err.strip().splitlines()
    assert sorted(line.split(":")[1].strip().rsplit("/", 1)[-1] for line in errors[:-1]) == \
        ["cut.png", "empty.png", "notes.bmp"]
    assert errors[-1].startswith("classified 4 of 7 images")
    assert sorted(p.name for p in out.iterdir()) == ["good0.png.txt", "good1.png.txt", "good2.png.txt",
                                                     "photo.jpg.txt"]
    assert captured.out.count(": top-5") == 4
    for line in (out / "good0.png.txt").read_text().splitlines():
        assert line in {str(d) for d in range(10)}


def test_all_good_exits_zero(tmp_path, onnx_model, digits):
    path = tmp_path / "one.png"
    cv2.imwrite(str(path), digits[0][0])
    assert main(["classify", str(path), "--model", str(onnx_model), "--output-dir", str(tmp_path / "o")]) == 0


def test_missing_model_names_the_stage(tmp_path, capsys):
    code = main(["classify", str(tmp_path), "--model", str(tmp_path / "lenet.onnx")])
    assert code == 2
    assert "convert stage" in capsys.readouterr().err


def test_app_predictions_match_the_backend(tmp_path, onnx_model, digits):
    """classify() is preprocess -> runtime -> softmax; nothing else changes the numbers."""
    images, _ = digits
    paths = []
    for i, image in enumerate(images):
        paths.append(tmp_path / f"{i}.png")
        cv2.imwrite(str(paths[-1]), image)
    backend = open_backend(onnx_model)
    predictions = app.classify(backend, paths)
    from lenet5.preprocess import prepare_batch
    expected = app.softmax(backend.run(prepare_batch(images)))
    np.testing.assert_allclose(np.stack([p.probabilities for p in predictions]), expected, rtol=1e-6)


def test_the_app_does_not_import_mindspore(tmp_path, onnx_model, digits):
    import subprocess
    import sys

    cv2.imwrite(str(tmp_path / "d.png"), digits[0][0])
    script = ("import sys, runpy; sys.modules['mindspore'] = None; sys.argv = ['lenet5', 'classify', "
              f"'{tmp_path / 'd.png'}', '--model', '{onnx_model}', '--output-dir', '{tmp_path / 'o'}']; "
              "runpy.run_module('lenet5', run_name='__main__')")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
