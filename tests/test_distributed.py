"""Data-parallel training under msrun: two local workers on the CPU, through the real train stage."""

import re
import socket
import subprocess
import time

import psutil
import pytest
import yaml
from workspace import command_env, git_commit, sh, tiny_workspace

pytestmark = pytest.mark.e2e
TWO_WORKERS = {("data", "test_fraction"): 0.8, ("train", "epochs"): 1, ("train", "workers"): 2,
               ("evaluate", "latency_runs"): 20}


def set_params(repo, **train):
    document = yaml.safe_load((repo / "params.yaml").read_text())
    document["train"].update(train)
    (repo / "params.yaml").write_text(yaml.safe_dump(document, sort_keys=False))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tiny_workspace(tmp_path_factory.mktemp("repo"), TWO_WORKERS)
    sh("dvc", "repro", "train", cwd=root)
    git_commit(root, "two workers")
    return root


def weight_digests(repo):
    return {log.name: re.search(r"weights sha256 (\w+)", log.read_text()).group(1)
            for log in sorted((repo / "logs/train").glob("worker_*.log"))}


def test_both_ranks_end_with_identical_weights_and_rank_0_writes(workspace):
    digests = weight_digests(workspace)
    assert list(digests) == ["worker_0.log", "worker_1.log"]
    assert len(set(digests.values())) == 1
    metrics = yaml.safe_load((workspace / "metrics/train.json").read_text())
    assert metrics["workers"] == 2 and metrics["train_images"] == 960       # 2 shards x 15 steps x 32

    check = ("from lenet5.export import load_checkpoint; from lenet5.train import weights_digest; "
             "print(weights_digest(load_checkpoint('models/lenet.ckpt')))")
    restored = sh("python", "-c", check, cwd=workspace).stdout.split()[-1]
    assert restored == digests["worker_0.log"]           # the zoo's LeNet5 loads exactly rank 0's weights


def test_a_port_in_use_fails_fast_with_one_line(workspace):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        set_params(workspace, master_port=port)
        try:
            started = time.monotonic()
            result = sh("dvc", "repro", "train", cwd=workspace, check=False)
        finally:
            sh("git", "checkout", "params.yaml", cwd=workspace)
    assert result.returncode != 0 and time.monotonic() - started < 60
    assert f"train.master_port {port} is in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_dying_worker_fails_the_stage_and_a_rerun_succeeds(workspace):
    set_params(workspace, epochs=30)
    stage = subprocess.Popen(["dvc", "repro", "train"], cwd=workspace, env=command_env(), text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        rank_1 = None
        deadline = time.monotonic() + 120
        while rank_1 is None:                                  # rank 1, once rank 0 has finished an epoch
            assert time.monotonic() < deadline and stage.poll() is None, "training did not start"
            log = workspace / "logs/train/worker_0.log"
            if log.exists() and "epoch 1:" in log.read_text(errors="replace"):
                rank_1 = next((p for p in psutil.Process(stage.pid).children(recursive=True)
                               if p.environ().get("MS_ROLE") == "MS_WORKER" and p.environ().get("RANK_ID") == "1"),
                              None)
            time.sleep(0.2)
        rank_1.kill()
        started = time.monotonic()
        _, stderr = stage.communicate(timeout=180)
    finally:
        if stage.poll() is None:
            stage.kill()
        sh("git", "checkout", "params.yaml", cwd=workspace)
    assert stage.returncode != 0 and time.monotonic() - started < 180
    assert "msrun with 2 workers failed" in stderr and "logs/train/" in stderr
    assert not (workspace / "models/lenet.ckpt").exists()
    sh("dvc", "repro", "--force", "train", cwd=workspace)        # after the failure a run goes through again
    assert len(set(weight_digests(workspace).values())) == 1
