"""Sharing data, models and the run-cache through an S3 remote, against a real S3 server on loopback
(`rclone serve s3`, see tests/s3_server.py): a push, a pull into a fresh clone that then reproduces nothing, and the
faults (wrong credentials, a stopped server, a push cut off mid-transfer, then the retry). Also the refusal of bad
`dvc exp run -S` values, which needs the same reproduced workspace.

One tiny-config workspace (as tests/test_pipeline.py builds it) is reproduced once and shared by all tests; every
server is stopped when its test ends, whatever the outcome.
"""

import hashlib
import subprocess
import time
from pathlib import Path

import pytest
from s3_server import ACCESS_KEY, SECRET_KEY, S3Server
from workspace import command_env, git_commit, sh, tiny_workspace

MODELS = ("models/lenet.ckpt", "models/deploy/lenet.onnx")
IN_SYNC = "are in sync"
pytestmark = pytest.mark.e2e


def add_s3_remote(repo, name, server, *, default=False, local=False, access_key=ACCESS_KEY, secret_key=SECRET_KEY):
    """The documented set-up: URL and endpoint in .dvc/config (or all in config.local), keys in config.local."""
    scope = ["--local"] if local else []
    sh("dvc", "remote", "add", *scope, *(["--default"] if default else []), "--force", name,
       f"s3://{server.bucket}/{name}", cwd=repo)
    sh("dvc", "remote", "modify", *scope, name, "endpointurl", server.endpoint, cwd=repo)
    sh("dvc", "remote", "modify", "--local", name, "access_key_id", access_key, cwd=repo)
    sh("dvc", "remote", "modify", "--local", name, "secret_access_key", secret_key, cwd=repo)


def objects(root: Path) -> dict[str, bytes]:
    """DVC's object files under a cache or remote folder (files/md5/..., runs/...), by relative path.
    rclone's hidden temporary uploads (.rclone_temp_*) are not objects: S3 listings never show them."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.startswith(".")}


def assert_content_addressed(found: dict[str, bytes]):
    """Every files/md5/ab/cdef... object holds exactly the bytes whose MD5 is its name: nothing truncated."""
    for name, data in found.items():
        if name.startswith("files/md5/"):
            assert hashlib.md5(data).hexdigest() == "".join(name.split("/")[2:4]).removesuffix(".dir"), name


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """Tiny config, reproduced, with dvc.lock and the metrics committed: the state a user pushes."""
    root = tiny_workspace(tmp_path_factory.mktemp("repo"))
    sh("dvc", "repro", cwd=root)
    git_commit(root, "reproduced")
    return root


@pytest.fixture
def server(tmp_path):
    with S3Server(tmp_path) as running:
        yield running


@pytest.fixture
def cache_before(workspace):
    """The workspace's cache at the start of a test; compared at its end: no fault may cost a local object."""
    before = objects(workspace / ".dvc" / "cache")
    assert_content_addressed(before)
    yield before
    assert objects(workspace / ".dvc" / "cache") == before
    assert "Data and pipelines are up to date" in sh("dvc", "status", cwd=workspace).stdout


def test_push_then_pull_into_a_fresh_clone_reproduces_nothing(workspace, server, tmp_path, cache_before):
    add_s3_remote(workspace, "storage", server, default=True)
    assert SECRET_KEY not in (workspace / ".dvc/config").read_text()
    assert SECRET_KEY in (workspace / ".dvc/config.local").read_text()
    git_commit(workspace, "S3 remote")                   # what a user commits: URL and endpoint, no keys
    sh("dvc", "push", "--run-cache", cwd=workspace)
    assert IN_SYNC in sh("dvc", "status", "--cloud", cwd=workspace).stdout

    clone = tmp_path / "clone"
    sh("git", "clone", "-q", str(workspace), str(clone), cwd=tmp_path)
    sh("dvc", "remote", "modify", "--local", "storage", "access_key_id", ACCESS_KEY, cwd=clone)
    sh("dvc", "remote", "modify", "--local", "storage", "secret_access_key", SECRET_KEY, cwd=clone)
    sh("dvc", "pull", "--run-cache", cwd=clone)

    for path in MODELS:
        assert (clone / path).read_bytes() == (workspace / path).read_bytes(), path
    assert objects(clone / ".dvc/cache/runs") == objects(workspace / ".dvc/cache/runs")
    assert "Data and pipelines are up to date" in sh("dvc", "status", cwd=clone).stdout
    again = sh("dvc", "repro", cwd=clone)
    assert "Running stage" not in again.stdout
    assert sh("git", "status", "--porcelain", cwd=clone).stdout == ""


@pytest.mark.parametrize("access_key, secret_key, message", [
    ("nobody", SECRET_KEY, "InvalidAccessKeyId"),
    (ACCESS_KEY, "not-the-secret", "SignatureDoesNotMatch"),
])
def test_wrong_credentials_fail_clearly_and_store_nothing(workspace, server, cache_before,
                                                         access_key, secret_key, message):
    add_s3_remote(workspace, "badkeys", server, local=True, access_key=access_key, secret_key=secret_key)
    result = sh("dvc", "push", "--run-cache", "-r", "badkeys", cwd=workspace, check=False)
    assert result.returncode != 0
    assert "ERROR: failed to transfer" in result.stderr and message in result.stderr
    assert objects(server.bucket_dir) == {}


def test_stopped_server_fails_clearly(workspace, server, cache_before):
    add_s3_remote(workspace, "stopped", server, local=True)
    server.stop()
    # botocore retries a refused connection 5 times with back-off (about 2 minutes for this push); one try here
    result = sh("dvc", "push", "--run-cache", "-r", "stopped", cwd=workspace, check=False, AWS_MAX_ATTEMPTS="1")
    assert result.returncode != 0
    assert f'Could not connect to the endpoint URL: "{server.endpoint}/' in result.stderr
    result = sh("dvc", "status", "--cloud", "-r", "stopped", cwd=workspace, check=False, AWS_MAX_ATTEMPTS="1")
    assert result.returncode != 0 and "Could not connect to the endpoint URL" in result.stderr


def test_push_cut_off_mid_transfer_then_retried_leaves_every_object_intact(workspace, server, cache_before):
    add_s3_remote(workspace, "reference", server, local=True)
    sh("dvc", "push", "--run-cache", "-r", "reference", cwd=workspace)     # what an unbroken push stores
    reference = objects(server.bucket_dir / "reference")
    add_s3_remote(workspace, "flaky", server, local=True)
    remote = server.bucket_dir / "flaky"
    server.stop()
    server.start("--bwlimit", "1M")              # ~5 MB to push: about 5 s, long enough to cut off
    push = subprocess.Popen(["dvc", "push", "--run-cache", "-r", "flaky"], cwd=workspace,
                            env=command_env(AWS_MAX_ATTEMPTS="1"), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        # cut at the first data object: the big test-images file and every .dir listing (sent after the files it
        # lists) are still to come
        deadline = time.monotonic() + 60
        while not any(name.startswith("files/") for name in objects(remote)):
            assert push.poll() is None, f"push ended before the cut:\n{push.stdout.read()}"
            assert time.monotonic() < deadline, "no object arrived within 60 s"
            time.sleep(0.05)
        server.stop(kill=True)                       # a crash mid-transfer
        output, _ = push.communicate(timeout=120)
    finally:
        if push.poll() is None:
            push.kill()
            push.wait()
    assert push.returncode != 0
    # "ERROR: failed to transfer ..." mid-upload, or "ERROR: unexpected error ..." if the cut hits a listing call
    assert "ERROR:" in output and "Could not connect to the endpoint URL" in output

    server.start()                                   # same folder, same port
    assert_content_addressed(objects(remote))        # what did arrive arrived whole
    assert IN_SYNC not in sh("dvc", "status", "--cloud", "-r", "flaky", cwd=workspace, check=False).stdout

    sh("dvc", "push", "--run-cache", "-r", "flaky", cwd=workspace)
    assert IN_SYNC in sh("dvc", "status", "--cloud", "-r", "flaky", cwd=workspace).stdout
    stored = objects(remote)
    assert stored == reference                       # every object, run-cache included, byte for byte
    assert_content_addressed(stored)
    cache = objects(workspace / ".dvc" / "cache")
    assert all(cache[name] == data for name, data in stored.items())
    assert {name for name in cache if name.startswith("runs/")} <= set(stored)


# --- bad `dvc exp run -S` values ---------------------------------------------------------------------------------

@pytest.mark.parametrize("override, message", [
    ("train.epochz=3", "Invalid `--set-param` value: Could not override 'train.epochz'"),
    ("trian.epochs=3", "Invalid `--set-param` value: Could not override 'trian.epochs'"),
    ("train.epochs=[1", "no viable alternative at input '[1'"),
    ("train.epochs", "missing EQUAL"),
])
def test_dvc_refuses_a_bad_override_before_any_stage(workspace, override, message):
    result = sh("dvc", "exp", "run", "-S", override, cwd=workspace, check=False)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Running stage" not in result.stdout
    assert sh("git", "status", "--porcelain", cwd=workspace).stdout == ""   # params.yaml untouched


def test_an_appended_unknown_key_stops_its_stage_before_training(workspace):
    """`+train.epochz=3` makes DVC add the key; the train stage's params loader rejects it in one line."""
    try:
        result = sh("dvc", "exp", "run", "-S", "+train.epochz=3", cwd=workspace, check=False)
        assert result.returncode != 0
        assert "error: params.yaml: unknown key train.epochz; valid keys: epochs, batch_size, lr" in result.stderr
        assert "Traceback" not in result.stderr and "epoch 1" not in result.stdout + result.stderr
        assert "Running stage 'download'" not in result.stdout
    finally:                                         # DVC removed the failed stage's outputs; all are in the cache
        sh("git", "checkout", "--", ".", cwd=workspace)
        sh("dvc", "checkout", cwd=workspace)
    assert "Data and pipelines are up to date" in sh("dvc", "status", cwd=workspace).stdout
