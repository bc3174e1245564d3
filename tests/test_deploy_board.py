"""scripts/deploy_board.sh without a board: stand-in ssh and scp (test doubles) act on a local folder as the board,
whose CANN set_env.sh puts the pyACL test double (tests/acl_double.py) on PYTHONPATH."""

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
from conftest import linear_onnx_model

from lenet5 import app
from lenet5.backends import open_backend

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"

SSH_DOUBLE = '''"""TEST DOUBLE of ssh: records its arguments, runs the command with sh in the pretend board's home."""
import json, os, subprocess, sys
args = sys.argv[1:]
with open(os.environ["STANDIN_LOG"], "a") as log:
    log.write(json.dumps(["ssh", *args]) + "\\n")
i = 0
while args[i].startswith("-"):
    i += 2 if args[i] in ("-o", "-i", "-p", "-F", "-l", "-J") else 1
env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
env["HOME"] = os.environ["BOARD_HOME"]
sys.exit(subprocess.run(["sh", "-c", " ".join(args[i + 1:])], cwd=env["HOME"], env=env).returncode)
'''

SCP_DOUBLE = '''"""TEST DOUBLE of scp: records its arguments, copies with cp -r; host:path is in the board's home."""
import json, os, subprocess, sys
args = sys.argv[1:]
with open(os.environ["STANDIN_LOG"], "a") as log:
    log.write(json.dumps(["scp", *args]) + "\\n")
paths, i = [], 0
while i < len(args):
    if args[i] in ("-o", "-i", "-P", "-F", "-l", "-S", "-c", "-J"):
        i += 2
    else:
        if not args[i].startswith("-"):
            paths.append(args[i])
        i += 1

def local(path):
    if ":" not in path:
        return path
    remote = path.split(":", 1)[1].removeprefix("~/")
    assert not remote.startswith("/"), "this stand-in maps home-relative remote paths only"
    return os.path.join(os.environ["BOARD_HOME"], remote)

sys.exit(subprocess.run(["cp", "-r", *map(local, paths)]).returncode)
'''

PYACL_DOUBLE = '''"""The pretend board's `acl`: the pyACL TEST DOUBLE, answering lenet.om with an ONNX model."""
import os, sys
from acl_double import AclDouble
sys.modules[__name__] = AclDouble(os.environ["ACL_DOUBLE_ONNX"], batch_size=1).module
'''


def _executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


@pytest.fixture
def setup(tmp_path, mnist_like):
    """A project copy with a stand-in lenet.om and three samples; stand-in ssh/scp first on PATH; an empty board."""
    project = tmp_path / "project"
    shutil.copytree(ROOT / "lenet5", project / "lenet5", ignore=shutil.ignore_patterns("__pycache__"))
    (project / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "deploy_board.sh", project / "scripts")
    (project / "models" / "deploy").mkdir(parents=True)
    (project / "models" / "deploy" / "lenet.om").write_bytes(b"stand-in .om")
    samples = project / "data" / "samples"
    samples.mkdir(parents=True)
    for i in range(3):
        cv2.imwrite(str(samples / f"digit{i}.png"), mnist_like[0][i])

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _executable(bin_dir / "ssh", f"#!{sys.executable}\n{SSH_DOUBLE}")
    _executable(bin_dir / "scp", f"#!{sys.executable}\n{SCP_DOUBLE}")
    _executable(bin_dir / "python3", f'#!/bin/sh\nexec {sys.executable} "$@"\n')   # the board's python3

    board = tmp_path / "board"
    pyacl = tmp_path / "board-pyacl"
    pyacl.mkdir()
    (pyacl / "acl.py").write_text(PYACL_DOUBLE)
    onnx_path, _, _ = linear_onnx_model(tmp_path / "behind-the-om.onnx")
    set_env = ("# TEST DOUBLE of CANN's set_env.sh: the pyACL test double instead of CANN's pyACL\n"
               f"export PYTHONPATH={pyacl}:{TESTS}\nexport ACL_DOUBLE_ONNX={onnx_path}\n")
    (board / "Ascend" / "ascend-toolkit").mkdir(parents=True)
    (board / "Ascend" / "ascend-toolkit" / "set_env.sh").write_text(set_env)

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SSH_OPTS", "CANN_SET_ENV", "BOARD_PYTHON")}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", BOARD_HOME=str(board), STANDIN_LOG=str(tmp_path / "log"))
    return project, board, onnx_path, env


def deploy(project, env, *args):
    return subprocess.run(["bash", str(project / "scripts" / "deploy_board.sh"), *args],
                          cwd=project.parent, env=env, capture_output=True, text=True, timeout=120, check=False)


def calls(env):
    log = Path(env["STANDIN_LOG"])
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_copies_the_app_model_and_samples_then_classifies_with_the_om(setup):
    project, board, onnx_path, env = setup
    env["SSH_OPTS"] = "-o Port=2222 -o BatchMode=yes"
    result = deploy(project, env, "pi@board")
    assert result.returncode == 0, result.stderr
    assert "results in outputs/board/" in result.stdout

    remote = board / "lenet5-app"
    assert (remote / "lenet.om").read_bytes() == b"stand-in .om"
    assert sorted(p.name for p in (remote / "samples").iterdir()) == ["digit0.png", "digit1.png", "digit2.png"]
    assert (remote / "lenet5" / "__main__.py").is_file() and (remote / "lenet5" / "backends" / "acl.py").is_file()

    recorded = calls(env)
    assert [c[0] for c in recorded] == ["ssh", "scp", "ssh", "scp"]
    assert all(c[1:5] == ["-o", "Port=2222", "-o", "BatchMode=yes"] for c in recorded)
    assert recorded[1][-4:] == ["lenet5", "models/deploy/lenet.om", "data/samples", "pi@board:lenet5-app/"]
    classify = recorded[2]
    assert classify[5] == "pi@board"
    assert ". \"$HOME/Ascend/ascend-toolkit/set_env.sh\"" in classify[6]
    assert classify[6].endswith("python3 -m lenet5 classify samples --model lenet.om")
    assert recorded[3][-2:] == ["pi@board:lenet5-app/outputs", "outputs/board"]

    # the board ran lenet.om through AclBackend (on the pyACL double): same classes as ONNX Runtime here
    backend = open_backend(onnx_path)
    expected = app.classify(backend, sorted((project / "data" / "samples").iterdir()))
    for prediction in expected:
        fetched = project / "outputs" / "board" / f"{prediction.path.name}.txt"
        assert fetched.read_text() == prediction.top(1)[0][0] + "\n"


def test_remote_dir_and_cann_set_env_are_honoured(setup, tmp_path):
    project, board, _, env = setup
    custom = tmp_path / "custom_set_env.sh"
    shutil.move(board / "Ascend" / "ascend-toolkit" / "set_env.sh", custom)
    env["CANN_SET_ENV"] = str(custom)
    result = deploy(project, env, "pi@board", "apps/lenet")
    assert result.returncode == 0, result.stderr
    assert (board / "apps" / "lenet" / "lenet.om").is_file()
    assert f'. "{custom}"' in calls(env)[2][-1]
    assert sorted(p.name for p in (project / "outputs" / "board").iterdir()) == \
        ["digit0.png.txt", "digit1.png.txt", "digit2.png.txt"]


def test_a_board_without_cann_fails_clearly(setup):
    project, board, _, env = setup
    shutil.rmtree(board / "Ascend")
    result = deploy(project, env, "pi@board")
    assert result.returncode != 0
    assert "note: no" in result.stderr and "set_env.sh on the board" in result.stderr
    assert "pyACL is not importable" in result.stderr
    assert "no outputs/ came back from pi@board" in result.stderr


def test_missing_om_names_the_command_that_makes_it(setup):
    project, _, _, env = setup
    (project / "models" / "deploy" / "lenet.om").unlink()
    result = deploy(project, env, "pi@board")
    assert result.returncode == 1
    assert "models/deploy/lenet.om not found" in result.stderr
    assert "dvc exp run -S convert.target=ascend-om" in result.stderr
    assert calls(env) == []
