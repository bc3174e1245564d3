"""AclBackend against the pyACL test double (tests/acl_double.py): no Ascend hardware or CANN is involved."""

import math
import re
import sys

import numpy as np
import pytest
from acl_double import ACL_DEVICE, ACL_FLOAT16, ACL_HOST, ACL_INT32, AclDouble
from conftest import linear_onnx_model

from lenet5.backends import open_backend, run_batches
from lenet5.backends.acl import AclBackend, AclError
from lenet5.backends.onnxruntime import OnnxRuntimeBackend
from lenet5.errors import UserError

# The call sequence of docs/ascend.md, written out by hand.
INIT = ["acl.init", "acl.rt.set_device", "acl.rt.create_context", "acl.rt.create_stream", "acl.rt.get_run_mode"]
LOAD = ["acl.mdl.load_from_file", "acl.mdl.create_desc", "acl.mdl.get_desc", "acl.mdl.get_input_dims",
        "acl.mdl.get_num_outputs", "acl.mdl.create_dataset",
        "acl.mdl.get_output_size_by_index", "acl.rt.malloc", "acl.create_data_buffer", "acl.mdl.add_dataset_buffer"]
EXECUTE = ["acl.mdl.get_input_size_by_index", "acl.mdl.create_dataset", "acl.util.bytes_to_ptr", "acl.rt.malloc",
           "acl.rt.memcpy", "acl.create_data_buffer", "acl.mdl.add_dataset_buffer", "acl.mdl.execute",
           "acl.rt.free", "acl.destroy_data_buffer", "acl.mdl.destroy_dataset"]
OUTPUT = ["acl.mdl.get_output_dims", "acl.mdl.get_output_data_type", "acl.mdl.get_dataset_buffer",
          "acl.get_data_buffer_addr", "acl.get_data_buffer_size"]
TO_HOST = ["acl.rt.malloc_host", "acl.rt.memcpy", "acl.util.ptr_to_bytes", "acl.rt.free_host"]
TEARDOWN = ["acl.rt.free", "acl.destroy_data_buffer", "acl.mdl.destroy_dataset", "acl.mdl.unload",
            "acl.mdl.destroy_desc", "acl.rt.destroy_stream", "acl.rt.destroy_context", "acl.rt.reset_device",
            "acl.finalize"]


@pytest.fixture
def model(tmp_path):
    """(stand-in .om file, the ONNX model behind it, its weight, its bias)."""
    om = tmp_path / "lenet.om"
    om.write_bytes(b"stand-in: the pyACL test double answers with the ONNX model")
    onnx_path, weight, bias = linear_onnx_model(tmp_path / "m.onnx")
    return om, onnx_path, weight, bias


def batch_of(n, seed=1):
    return np.random.default_rng(seed).normal(size=(n, 1, 32, 32)).astype(np.float32)


@pytest.mark.parametrize("run_mode", [ACL_HOST, ACL_DEVICE])
def test_calls_follow_the_documented_sequence(model, run_mode):
    om, onnx_path, _, _ = model
    double = AclDouble(onnx_path, batch_size=1, run_mode=run_mode)
    backend = AclBackend(om, acl_module=double.module)
    assert double.names() == INIT + LOAD
    start = len(double.calls)
    backend.run(batch_of(1))
    assert double.names()[start:] == EXECUTE + OUTPUT + (TO_HOST if run_mode == ACL_HOST else ["acl.util.ptr_to_bytes"])
    start = len(double.calls)
    backend.close()
    assert double.names()[start:] == TEARDOWN
    assert double.leaks() == []

    args = {name: [a for n, a in double.calls if n == name] for name in double.names()}
    assert args["acl.rt.set_device"] == args["acl.rt.reset_device"] == [(0,)]
    assert args["acl.mdl.load_from_file"] == [(str(om),)]
    assert [policy for _, policy in args["acl.rt.malloc"]] == [2, 2]
    assert [a[-1] for a in args["acl.rt.memcpy"]] == ([1, 2] if run_mode == ACL_HOST else [3])
    assert all(a[1] == a[3] == 4096 for a in args["acl.rt.memcpy"][:1])


@pytest.mark.parametrize("options, tolerance", [
    ({"run_mode": ACL_HOST}, 1e-6),
    ({"run_mode": ACL_DEVICE}, 1e-6),
    ({"output_type": ACL_FLOAT16}, 2e-3),
    ({"old_cann": True}, 1e-6),
])
def test_logits_equal_onnxruntime(model, options, tolerance):
    om, onnx_path, _, _ = model
    double = AclDouble(onnx_path, batch_size=4, **options)
    backend = AclBackend(om, acl_module=double.module)
    batch = batch_of(4)
    logits = backend.run(batch)
    assert logits.dtype == np.float32 and logits.shape == (4, 10) and backend.batch_size == 4
    np.testing.assert_allclose(logits, OnnxRuntimeBackend(onnx_path).run(batch), rtol=tolerance, atol=tolerance)
    if options.get("old_cann"):
        assert {"acl.util.numpy_to_ptr", "acl.util.ptr_to_numpy"} <= set(double.names())
    backend.close()
    assert double.leaks() == []


def test_open_backend_picks_acl_for_om(model, monkeypatch):
    om, onnx_path, weight, bias = model
    double = AclDouble(onnx_path, batch_size=1)
    monkeypatch.setitem(sys.modules, "acl", double.module)
    backend = open_backend(om)
    assert isinstance(backend, AclBackend) and backend.name == "acl" and backend.batch_size == 1
    batch = batch_of(1)
    np.testing.assert_allclose(backend.run(batch), batch.reshape(1, -1) @ weight + bias, rtol=1e-4, atol=1e-5)
    backend.close()
    assert double.leaks() == []


@pytest.mark.parametrize("batch_size", [1, 4])
def test_partial_batches_are_padded(model, batch_size):
    om, onnx_path, weight, bias = model
    double = AclDouble(onnx_path, batch_size=batch_size)
    backend = AclBackend(om, acl_module=double.module)
    inputs = batch_of(6)
    logits = run_batches(backend, inputs)
    np.testing.assert_allclose(logits, inputs.reshape(6, -1) @ weight + bias, rtol=1e-4, atol=1e-5)
    assert double.names().count("acl.mdl.execute") == math.ceil(6 / batch_size)
    backend.close()


def test_failing_execute_releases_the_input_then_close_releases_the_rest(model):
    om, onnx_path, _, _ = model
    double = AclDouble(onnx_path, batch_size=1)
    double.fail("acl.mdl.execute", 500002)
    backend = AclBackend(om, acl_module=double.module)
    with pytest.raises(AclError, match=rf"^acl.mdl.execute returned 500002 \(GE failure\) for {re.escape(str(om))}$"):
        backend.run(batch_of(1))
    assert double.names()[-3:] == ["acl.rt.free", "acl.destroy_data_buffer", "acl.mdl.destroy_dataset"]
    assert list(double.datasets) == [backend.output_dataset]
    assert list(double.data_buffers) == backend.output_data_buffers
    assert list(double.device_memory) == backend.output_pointers
    backend.close()
    assert double.leaks() == []
    calls = len(double.calls)
    backend.close()
    assert len(double.calls) == calls


def test_input_of_the_wrong_size_is_refused_before_any_device_work(model):
    om, onnx_path, _, _ = model
    double = AclDouble(onnx_path, batch_size=1)
    backend = AclBackend(om, acl_module=double.module)
    start = len(double.calls)
    with pytest.raises(AclError, match="takes 4096 bytes per run .* got 8192 bytes .*run_batches"):
        backend.run(batch_of(2))
    assert double.names()[start:] == ["acl.mdl.get_input_size_by_index"]
    backend.close()
    assert double.leaks() == []


def test_failing_load_names_the_call_and_still_resets_and_finalizes(model):
    om, onnx_path, _, _ = model
    double = AclDouble(onnx_path)
    double.fail("acl.mdl.load_from_file", 100003)
    message = rf"^acl.mdl.load_from_file returned 100003 \(invalid file\) for {re.escape(str(om))}$"
    with pytest.raises(AclError, match=message) as caught:
        AclBackend(om, acl_module=double.module)
    assert isinstance(caught.value, UserError)
    assert double.names() == INIT + ["acl.mdl.load_from_file", "acl.rt.destroy_stream", "acl.rt.destroy_context",
                                     "acl.rt.reset_device", "acl.finalize"]
    assert double.leaks() == []


@pytest.mark.parametrize("call", ["acl.init", "acl.rt.set_device", "acl.rt.create_context", "acl.rt.create_stream",
                                  "acl.rt.get_run_mode", "acl.mdl.get_desc", "acl.mdl.get_input_dims",
                                  "acl.rt.malloc", "acl.mdl.add_dataset_buffer"])
def test_a_start_failing_anywhere_releases_what_was_set_up(model, call):
    om, onnx_path, _, _ = model
    double = AclDouble(onnx_path)
    double.fail(call, 200000)
    with pytest.raises(AclError, match=rf"^{re.escape(call)} returned 200000 \(bad alloc\)"):
        AclBackend(om, acl_module=double.module)
    assert double.leaks() == []
    assert double.names()[-1] == ("acl.init" if call == "acl.init" else "acl.finalize")


def test_a_missing_om_file_is_reported_by_the_load(tmp_path, model):
    _, onnx_path, _, _ = model
    double = AclDouble(onnx_path)
    with pytest.raises(AclError, match=r"acl.mdl.load_from_file returned 100003 \(invalid file\) for .*nothing.om"):
        AclBackend(tmp_path / "nothing.om", acl_module=double.module)
    assert double.leaks() == []


def test_a_failing_release_does_not_stop_the_teardown(model):
    om, onnx_path, _, _ = model
    double = AclDouble(onnx_path)
    backend = AclBackend(om, acl_module=double.module)
    double.fail("acl.mdl.unload", 100000)
    with pytest.raises(AclError, match=r"acl.mdl.unload returned 100000 \(invalid param\)"):
        backend.close()
    assert double.names()[-5:] == ["acl.mdl.destroy_desc", "acl.rt.destroy_stream", "acl.rt.destroy_context",
                                   "acl.rt.reset_device", "acl.finalize"]
    assert double.leaks() == ["1 models"]
    backend.close()


def test_outputs_that_are_not_float_are_refused(model):
    om, onnx_path, _, _ = model
    double = AclDouble(onnx_path, output_type=ACL_INT32)
    backend = AclBackend(om, acl_module=double.module)
    with pytest.raises(AclError, match="output 0 has ACL data type 3"):
        backend.run(batch_of(1))
    backend.close()
    assert double.leaks() == []


def test_without_pyacl_a_clear_error(model, monkeypatch):
    om = model[0]
    monkeypatch.setitem(sys.modules, "acl", None)       # `import acl` raises ImportError
    with pytest.raises(UserError, match=r"pyACL is not importable.*source \$HOME/Ascend/ascend-toolkit/set_env.sh"):
        open_backend(om)
