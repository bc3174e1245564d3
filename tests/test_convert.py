import os
import stat

import numpy as np
import pytest
from conftest import linear_onnx_model

from lenet5.backends import open_backend
from lenet5.convert import (
    ConvertError,
    ConvertParams,
    atc_command,
    compile_with_atc,
    describe,
    optimize_for_onnxruntime,
)


def test_onnxruntime_optimisation_keeps_the_outputs(tmp_path):
    source, _, _ = linear_onnx_model(tmp_path / "m.onnx")
    optimize_for_onnxruntime(source, tmp_path / "opt.onnx", "extended")
    batch = np.random.default_rng(0).normal(size=(4, 1, 32, 32)).astype(np.float32)
    np.testing.assert_allclose(open_backend(tmp_path / "opt.onnx").run(batch), open_backend(source).run(batch),
                               rtol=1e-5, atol=1e-6)
    summary = describe(tmp_path / "opt.onnx", "onnxruntime")
    assert summary["size_bytes"] > 0 and summary["operators"] >= 1 and summary["target"] == "onnxruntime"


def test_atc_command_from_onnx_and_air():
    onnx_cmd = atc_command("models/export/lenet.onnx", "out/lenet", ConvertParams(target="ascend-om"))
    assert onnx_cmd == ["atc", "--model=models/export/lenet.onnx", "--output=out/lenet", "--soc_version=Ascend310",
                        "--framework=5", "--input_shape=x:1,1,32,32"]
    air_cmd = atc_command("models/export/lenet.air", "out/lenet",
                          ConvertParams(target="ascend-om", atc_input="air", soc_version="Ascend310P3"))
    assert air_cmd == ["atc", "--model=models/export/lenet.air", "--output=out/lenet", "--soc_version=Ascend310P3",
                       "--framework=1"]


def test_without_atc_a_clear_error_and_no_output(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    source, _, _ = linear_onnx_model(tmp_path / "m.onnx")
    with pytest.raises(ConvertError, match="needs CANN's `atc` on PATH.*set_env.sh"):
        compile_with_atc(source, tmp_path / "out" / "lenet.om", ConvertParams(target="ascend-om"))
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def _fake_atc(folder, exit_code=0, write=True):
    """TEST DOUBLE of CANN's atc: records its arguments; writes <--output>.om unless told not to."""
    folder.mkdir(exist_ok=True)
    script = folder / "atc"
    script.write_text(f"""#!/usr/bin/env python3
import sys
args = sys.argv[1:]
open({str(folder / 'args.txt')!r}, "w").write("\\n".join(args))
out = next(a.split("=", 1)[1] for a in args if a.startswith("--output="))
if {write!r}:
    open(out + ".om", "wb").write(b"fake om")
print("ATC run " + ("success" if {exit_code} == 0 else "failed: E10001 bad input"))
sys.exit({exit_code})
""")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return folder


def test_stand_in_atc_is_called_and_its_om_kept(tmp_path, monkeypatch):
    bin_dir = _fake_atc(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    source, _, _ = linear_onnx_model(tmp_path / "m.onnx")
    compile_with_atc(source, tmp_path / "deploy" / "lenet.om", ConvertParams(target="ascend-om"))
    assert (tmp_path / "deploy" / "lenet.om").read_bytes() == b"fake om"
    args = (bin_dir / "args.txt").read_text().splitlines()
    assert "--framework=5" in args and "--input_shape=x:1,1,32,32" in args and f"--model={source}" in args


@pytest.mark.parametrize("exit_code, write, message", [(1, False, "exit code 1.*E10001"), (0, False, "wrote no")])
def test_failing_atc_leaves_no_partial_output(tmp_path, monkeypatch, exit_code, write, message):
    bin_dir = _fake_atc(tmp_path / "bin", exit_code=exit_code, write=write)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    source, _, _ = linear_onnx_model(tmp_path / "m.onnx")
    (tmp_path / "deploy").mkdir()
    with pytest.raises(ConvertError, match=message):
        compile_with_atc(source, tmp_path / "deploy" / "lenet.om", ConvertParams(target="ascend-om"))
    assert list((tmp_path / "deploy").iterdir()) == []
