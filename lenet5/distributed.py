"""Data-parallel training on MindSpore's own launcher, msrun: launch, join, and the worker side.

The train stage re-runs itself under `msrun` with N local workers; each worker joins MindSpore's collective
(`mindspore.communication.init()`, "mccl" on CPU, HCCL on Ascend, NCCL on GPU), reads its own shard of the data
and trains with gradients averaged across workers (DATA_PARALLEL, gradients_mean=True).
"""

import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

from lenet5.errors import UserError

LOG_DIR = Path("logs/train")    # msrun's per-rank logs (scheduler.log, worker_<rank>.log); not a DVC output
LAUNCHED = "LENET5_MSRUN"       # set for the processes msrun starts, so none of them starts msrun again


class DistributedError(UserError):
    pass


def is_worker() -> bool:
    """True inside a process that msrun started: a worker, or the scheduler (which serves inside `init()`)."""
    return "MS_ROLE" in os.environ


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_port(port: int) -> None:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError as err:
            raise DistributedError(f"train.master_port {port} is in use ({err.strerror}); choose another port, "
                                   "or 0 to take a free one") from err


def first_error(log_dir: Path) -> str:
    """The most telling line of a failed run's logs: a Python exception, else MindSpore's first ERROR."""
    for pattern in (r"^\w*(Error|Exception)\b.*", r"\[ERROR\].*"):
        for log in sorted(log_dir.glob("*.log")):
            match = re.search(pattern, log.read_text(errors="replace"), re.MULTILINE)
            if match:
                return f"{log.name}: {match.group(0)[:300]}"
    return "no error line found"


def launch(workers: int, script: str, master_port: int = 0, log_dir: Path = LOG_DIR,
           cluster_timeout: int = 120) -> None:
    """Run `python script` as `workers` local msrun workers and wait; a failure raises with the first error.

    A worker that dies is noticed by msrun's scheduler (heartbeats, about 30 s) and ends the run; a cluster that
    cannot form (a worker that never starts) gives up after `cluster_timeout` seconds.
    """
    if os.environ.get(LAUNCHED):
        raise DistributedError("refusing to start msrun from inside an msrun job")
    if shutil.which("msrun") is None:
        raise DistributedError("train.workers > 1 needs MindSpore's `msrun` on PATH; activate the venv "
                               "(source .venv/bin/activate) or run through make")
    port = master_port or free_port()
    check_port(port)
    shutil.rmtree(log_dir, ignore_errors=True)
    log_dir.mkdir(parents=True)
    command = ["msrun", f"--worker_num={workers}", f"--local_worker_num={workers}", f"--master_port={port}",
               f"--log_dir={log_dir}", "--join=True", f"--cluster_time_out={cluster_timeout}", script]
    python_path = os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")]))   # for `stages`
    env = {**os.environ, LAUNCHED: "1", "PYTHONPATH": python_path}
    # the CPU kernels' OpenMP threads: share the cores between the local workers unless the user chose
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
    print("running:", " ".join(command), flush=True)
    result = subprocess.run(command, env=env, check=False)
    if result.returncode != 0:
        raise DistributedError(f"msrun with {workers} workers failed (exit {result.returncode}): "
                               f"{first_error(log_dir)}; per-rank logs in {log_dir}/")


def init() -> tuple[int, int]:
    """Join the collective and switch to data-parallel training; returns (rank, group size)."""
    import mindspore as ms
    from mindspore.communication import get_group_size, get_rank
    from mindspore.communication import init as init_collective

    init_collective()
    ms.set_auto_parallel_context(parallel_mode=ms.ParallelMode.DATA_PARALLEL, gradients_mean=True)
    return get_rank(), get_group_size()
