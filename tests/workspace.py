"""Throw-away copies of this repository for end-to-end tests: what a fresh clone holds, on a tiny config."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TINY_PARAMS = {("data", "test_fraction"): 0.8,        # 1,000 training images
               ("train", "epochs"): 1,
               ("evaluate", "latency_runs"): 20}


def command_env(**extra) -> dict:
    """This venv first on PATH (DVC stages call `python`); no AWS_* from the caller's shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {**env, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "GLOG_v": "2", **extra}


def sh(*args, cwd, check=True, timeout=600, **env):
    result = subprocess.run(args, cwd=cwd, env=command_env(**env), capture_output=True, text=True, timeout=timeout,
                            check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} failed ({result.returncode}):\n"
                             f"{result.stdout}\n{result.stderr}")
    return result


def git_commit(repo: Path, message: str) -> None:
    sh("git", "add", "-A", cwd=repo)
    sh("git", "-c", "user.name=test", "-c", "user.email=test@example.com", "commit", "-qm", message, cwd=repo)


def tiny_workspace(root: Path, params: dict | None = None) -> Path:
    """A git repo at `root` with this checkout's tracked (and new, unignored) files, minus the committed run
    results, with the tiny config (or `params`: {(section, key): value}) committed."""
    files = sh("git", "ls-files", "-co", "--exclude-standard", cwd=REPO).stdout.split()
    for name in files:
        if (REPO / name).is_file() and not name.startswith(("metrics/", "dvc.lock", "benchmarks/results")):
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, root / name)
    document = yaml.safe_load((root / "params.yaml").read_text())
    for (section, key), value in (TINY_PARAMS if params is None else params).items():
        document[section][key] = value
    (root / "params.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    sh("git", "init", "-q", cwd=root)
    git_commit(root, "workspace")
    return root
