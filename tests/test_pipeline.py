"""End to end: `dvc repro` of the whole pipeline on a tiny config, in a throw-away copy of the repository."""

import json
import sys

import pytest
import yaml
from workspace import sh, tiny_workspace

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return tiny_workspace(tmp_path_factory.mktemp("repo"))


@pytest.fixture(scope="module")
def repro(workspace):
    return sh("dvc", "repro", cwd=workspace)


def test_all_stages_run_and_write_their_metrics(workspace, repro):
    for stage in ("download", "train", "export", "convert", "evaluate"):
        assert f"Running stage '{stage}'" in repro.stdout
    train = json.loads((workspace / "metrics/train.json").read_text())
    assert train["epochs"] == 1 and train["train_images"] == 992 and train["test_images"] == 4000
    evaluate = json.loads((workspace / "metrics/evaluate.json").read_text())
    assert evaluate["images"] == 4000
    assert evaluate["agreement_with_checkpoint"] >= 0.995
    assert abs(evaluate["accuracy"] - evaluate["checkpoint_accuracy"]) <= 0.005
    assert evaluate["checkpoint_accuracy"] == pytest.approx(train["accuracy"])
    latency = json.loads((workspace / "metrics/latency.json").read_text())
    assert latency["batch1_runs"] == 20 and latency["batch1_p50_ms"] > 0
    convert = json.loads((workspace / "metrics/convert.json").read_text())
    assert convert["target"] == "onnxruntime" and convert["operators"] > 0
    for path in ("models/lenet.ckpt", "models/export/lenet.mindir", "models/export/lenet.onnx", "models/deploy/lenet.onnx",
                 "metrics/misclassified.png", "metrics/predictions.csv",
                 "metrics/train/plots/metrics/loss.tsv"):
        assert (workspace / path).stat().st_size > 0, path
    assert len(list((workspace / "data/samples").glob("*.png"))) == 10


def test_second_repro_runs_nothing(workspace, repro):
    again = sh("dvc", "repro", cwd=workspace)
    assert "Running stage" not in again.stdout
    assert "Data and pipelines are up to date" in sh("dvc", "status", cwd=workspace).stdout


def test_metrics_and_plots_commands(workspace, repro):
    shown = sh("dvc", "metrics", "show", "--json", cwd=workspace).stdout
    assert "agreement_with_checkpoint" in shown
    sh("dvc", "plots", "show", "--json", cwd=workspace)


def test_the_app_classifies_the_samples(workspace, repro):
    result = sh(sys.executable, "-m", "lenet5", "classify", "data/samples", cwd=workspace)
    assert result.stdout.count(": top-5") == 10
    assert len(list((workspace / "outputs").glob("*.png.txt"))) == 10


def test_bad_param_fails_the_stage_with_one_line_and_loses_nothing(workspace, repro):
    params = yaml.safe_load((workspace / "params.yaml").read_text())
    params["convert"]["target"] = "tensorrt"
    (workspace / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        result = sh("dvc", "repro", cwd=workspace, check=False)
        assert result.returncode != 0
        assert "convert.target 'tensorrt' is unknown; valid targets: onnxruntime, ascend-om" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        sh("git", "checkout", "params.yaml", cwd=workspace)
    restored = sh("dvc", "repro", cwd=workspace)      # the good model comes back from DVC's run-cache
    assert "Running stage" not in restored.stdout
    assert (workspace / "models/deploy/lenet.onnx").stat().st_size > 0
