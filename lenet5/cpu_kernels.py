"""LeNet-5's convolution and pooling layers as MindSpore custom CPU operators (`ops.Custom`, func_type "aot").

The kernels (cpu_kernels.cc) are compiled with the system's C++ compiler on first use, for this CPU
(-march=native, OpenMP), into a cache folder keyed by the source, the flags, the compiler and the CPU, so a
changed kernel or another machine never picks up a stale library. Linux only, as MindSpore's AOT operators are.
"""

import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

from mindspore import ops

from lenet5.errors import UserError

SOURCE = Path(__file__).with_name("cpu_kernels.cc")
FLAGS = ("-O3", "-march=native", "-fopenmp", "-shared", "-fPIC", "-std=c++17")


class KernelBuildError(UserError):
    """The kernels cannot be built here; the message says why and what to do."""


def cache_folder() -> Path:
    """$LENET5_KERNEL_CACHE, else $XDG_CACHE_HOME/lenet5 or ~/.cache/lenet5."""
    if os.environ.get("LENET5_KERNEL_CACHE"):
        return Path(os.environ["LENET5_KERNEL_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "lenet5"


def _cpu_description() -> bytes:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    flags = next((line for line in lines if line.startswith(("flags", "Features"))), "")
    return f"{platform.machine()}\n{flags}".encode()


@functools.cache
def library() -> Path:
    """The compiled kernel library, built now if this source/compiler/CPU has none cached yet."""
    if platform.system() != "Linux":
        raise KernelBuildError("MindSpore's custom CPU operators need Linux; set train.conv: im2col")
    compiler = shutil.which(os.environ.get("CXX", "g++"))
    if compiler is None:
        raise KernelBuildError("no C++ compiler found (g++ or $CXX); install one (apt install g++) "
                               "or set train.conv: im2col")
    version = subprocess.run([compiler, "--version"], check=False, capture_output=True, text=True).stdout
    key = hashlib.sha256(SOURCE.read_bytes() + " ".join(FLAGS).encode() + version.encode() + _cpu_description())
    target = cache_folder() / f"lenet5_cpu_kernels-{key.hexdigest()[:16]}.so"
    if target.exists():
        return target
    try:
        _build(compiler, target)
    except OSError as error:
        raise KernelBuildError(f"cannot build the kernels in {target.parent} ({error.strerror or error}); set "
                               "LENET5_KERNEL_CACHE to a writable folder or train.conv: im2col") from error
    return target


def _build(compiler: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    # build beside the target and rename: concurrent builders (msrun workers) never see a partial library
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as tmp:
        built = Path(tmp) / target.name
        result = subprocess.run([compiler, *FLAGS, str(SOURCE), "-o", str(built)], check=False,
                                capture_output=True, text=True)
        if result.returncode != 0:
            first_error = next((line for line in result.stderr.splitlines() if "error" in line), result.stderr)
            raise KernelBuildError(f"compiling {SOURCE.name} failed: {' '.join(first_error.split())[:300]}; "
                                   "set train.conv: im2col")
        built.replace(target)


@functools.cache
def available() -> tuple[bool, str]:
    """(True, "") if the kernels build or are cached here, else (False, why); asked once per process."""
    try:
        library()
    except KernelBuildError as error:
        return False, str(error)
    return True, ""


def _operator(kernel: str, out_shape, bprop=None) -> ops.Custom:
    return ops.Custom(f"{library()}:{kernel}", out_shape=out_shape, out_dtype=lambda dtype, *_: dtype,
                      func_type="aot", bprop=bprop)


FIRST_CONV_OUT = 6       # the channels the kernels cover, LeNet-5's
SECOND_CONV_OUT = 16


def first_conv(kernel_size: int) -> ops.Custom:
    """(x N x H x W x 1, weight 6 x 1 x K x K) -> N x OH x OW x 6; gradient for the weight only."""
    k, out_channels = kernel_size, FIRST_CONV_OUT
    weight_grad = _operator("FirstConvWeightGrad", lambda x, dy: (out_channels, 1, k, k))
    zeros_like = ops.ZerosLike()

    def bprop(x, weight, out, dout):
        return zeros_like(x), weight_grad(x, dout)

    return _operator("FirstConv", lambda x, w: (x[0], x[1] - k + 1, x[2] - k + 1, out_channels), bprop)


def second_conv(kernel_size: int, in_channels: int) -> ops.Custom:
    """(x N x H x W x C, weight 16 x C x K x K) -> N x OH x OW x 16; gradients for both."""
    k = kernel_size
    input_grad = _operator("SecondConvInputGrad", lambda dy, w: (dy[0], dy[1] + k - 1, dy[2] + k - 1, in_channels))
    weight_grad = _operator("SecondConvWeightGrad", lambda x, dy: (SECOND_CONV_OUT, in_channels, k, k))

    def bprop(x, weight, out, dout):
        return input_grad(dout, weight), weight_grad(x, dout)

    return _operator("SecondConv", lambda x, w: (x[0], x[1] - k + 1, x[2] - k + 1, SECOND_CONV_OUT), bprop)


def relu_max_pool() -> ops.Custom:
    """max(0, 2x2 max-pool with stride 2) over N x H x W x C, H and W even."""
    grad = _operator("ReluMaxPoolGrad", lambda x, y, dy: x)

    def bprop(x, out, dout):
        return (grad(x, out, dout),)

    return _operator("ReluMaxPool", lambda s: (s[0], s[1] // 2, s[2] // 2, s[3]), bprop)
