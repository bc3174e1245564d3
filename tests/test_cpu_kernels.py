import pytest

from lenet5 import cpu_kernels
from lenet5.errors import UserError
from lenet5.train import TrainParams


@pytest.fixture
def fresh_build(monkeypatch, tmp_path):
    """The kernel library built into an empty cache folder, as on a new machine."""
    monkeypatch.setenv("LENET5_KERNEL_CACHE", str(tmp_path / "cache"))
    cpu_kernels.library.cache_clear()
    cpu_kernels.available.cache_clear()
    yield tmp_path
    cpu_kernels.library.cache_clear()
    cpu_kernels.available.cache_clear()


def test_library_is_built_once_into_the_cache_folder(fresh_build):
    built = cpu_kernels.library()
    assert built.parent == fresh_build / "cache" and built.suffix == ".so"
    assert [p.name for p in built.parent.iterdir()] == [built.name]        # no build leftovers
    stamp = built.stat().st_mtime_ns
    cpu_kernels.library.cache_clear()
    assert cpu_kernels.library() == built and built.stat().st_mtime_ns == stamp


def test_a_changed_source_builds_a_new_library(fresh_build, monkeypatch):
    first = cpu_kernels.library()
    changed = fresh_build / "cpu_kernels.cc"
    changed.write_text(cpu_kernels.SOURCE.read_text() + "\n// changed\n")
    monkeypatch.setattr(cpu_kernels, "SOURCE", changed)
    cpu_kernels.library.cache_clear()
    assert cpu_kernels.library() != first


def test_no_compiler_is_one_clear_error_and_auto_falls_back_to_im2col(fresh_build, monkeypatch):
    monkeypatch.setenv("CXX", "no-such-compiler")
    with pytest.raises(UserError, match="no C\\+\\+ compiler found .*train.conv: im2col"):
        cpu_kernels.library()
    assert cpu_kernels.available()[0] is False
    assert TrainParams(conv="auto").conv_implementation == "im2col"
    assert TrainParams(conv="auto", device="GPU").conv_implementation == "stock"


def test_a_compile_error_names_the_source_and_the_first_error(fresh_build, monkeypatch):
    broken = fresh_build / "cpu_kernels.cc"
    broken.write_text("int broken( {\n")
    monkeypatch.setattr(cpu_kernels, "SOURCE", broken)
    with pytest.raises(UserError, match="compiling cpu_kernels.cc failed: .*error.*train.conv: im2col") as error:
        cpu_kernels.library()
    assert "\n" not in str(error.value)
    assert not list((fresh_build / "cache").iterdir())                     # nothing half-built left


def test_an_unwritable_cache_folder_is_one_clear_error(fresh_build, monkeypatch):
    blocker = fresh_build / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("LENET5_KERNEL_CACHE", str(blocker / "cache"))
    with pytest.raises(UserError, match="cannot build the kernels in .*a-file/cache .*LENET5_KERNEL_CACHE"):
        cpu_kernels.library()


def test_auto_uses_the_kernels_on_the_cpu_where_they_build():
    assert TrainParams(conv="auto").conv_implementation == "aot"


def test_aot_on_another_device_is_a_params_error():
    with pytest.raises(ValueError, match="train.conv aot is for the CPU only"):
        TrainParams(conv="aot", device="Ascend").check()


GRADIENTS_SCRIPT = """
import sys; sys.path.insert(0, ".")
import numpy as np, mindspore as ms
from mindspore import ops
ms.set_device("CPU"); ms.set_context(mode=ms.GRAPH_MODE); ms.set_seed(0)
from lenet5.model import build_lenet5
net = build_lenet5("aot")
rng = np.random.default_rng(0)
x = ms.Tensor(rng.normal(size=(37, 1, 32, 32)).astype(np.float32))
loss = lambda inputs: (net(inputs) ** 2).sum()
grads = ops.grad(loss, grad_position=None, weights=net.trainable_params())(x)
sys.stdout.write(b"".join(g.asnumpy().tobytes() for g in grads).hex())
"""


def test_gradients_do_not_depend_on_the_number_of_threads(tmp_path):
    """Same params -> same metrics on any core count: the kernels sum over images in a fixed order."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    script = tmp_path / "gradients.py"                  # MindSpore compiles from source: not from `python -c`
    script.write_text(GRADIENTS_SCRIPT)
    outputs = [subprocess.run([sys.executable, str(script)], cwd=repo, capture_output=True, text=True,
                              check=True, env={**os.environ, "OMP_NUM_THREADS": threads, "GLOG_v": "3"}).stdout
               for threads in ("1", "2", "3")]
    assert len(outputs[0]) > 1000 and outputs[0] == outputs[1] == outputs[2]
