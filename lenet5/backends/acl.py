"""Ascend NPU through pyACL (CANN's Python `acl` module), in the reference app's call sequence (docs/ascend.md).

Init: acl.init -> rt.set_device -> rt.create_context -> rt.create_stream -> rt.get_run_mode.
Load: mdl.load_from_file -> mdl.create_desc / get_desc -> a device buffer per output, in an output dataset.
Run: batch bytes -> device buffer in an input dataset -> mdl.execute -> output 0 back to the host -> numpy.
close() releases everything in reverse. pyACL is imported only when a backend is opened (boards alone have it).
"""

import functools
from pathlib import Path

import numpy as np

from lenet5.errors import UserError

ACL_HOST = 1                # run mode: the app runs on a host whose memory is not the device's (Atlas 300 card)
MALLOC_NORMAL_ONLY = 2
HOST_TO_DEVICE, DEVICE_TO_HOST, DEVICE_TO_DEVICE = 1, 2, 3
OUTPUT_TYPES = {0: np.float32, 1: np.float16}      # aclDataType ACL_FLOAT, ACL_FLOAT16
NPY_UINT8 = 2               # numpy's type number, for acl.util.ptr_to_numpy on older CANN
ERROR_CODES = {
    100000: "invalid param",
    100003: "invalid file",
    100017: "model input does not match",
    200000: "bad alloc",
    500002: "GE failure",
}


class AclError(UserError, RuntimeError):
    """A pyACL call failed, or the model does not fit the app; the message names the call or model."""


def import_acl():
    try:
        import acl
    except ImportError as err:
        raise AclError(
            f"pyACL is not importable ({err}): on the board run `source $HOME/Ascend/ascend-toolkit/set_env.sh` "
            "(it puts CANN's pyACL, .../pyACL/python/site-packages/acl, on PYTHONPATH) and try again") from err
    return acl


class AclBackend:
    name = "acl"

    def __init__(self, path: Path, device_id: int = 0, acl_module=None):
        self.path = Path(path)
        self.device_id = device_id
        self.acl = acl_module if acl_module is not None else import_acl()
        self.batch_size = None
        self.initialized = self.device_set = False
        self.context = self.stream = self.model_id = self.desc = self.output_dataset = None
        self.output_pointers, self.output_data_buffers = [], []
        try:
            self._start()
            self._load()
        except BaseException:
            self._release(raise_errors=False)      # the error that stopped the start is the one to report
            raise

    def _start(self):
        self._call("acl.init")
        self.initialized = True
        self._call("acl.rt.set_device", self.device_id)
        self.device_set = True
        self.context = self._call("acl.rt.create_context", self.device_id)
        self.stream = self._call("acl.rt.create_stream")
        self.host_run_mode = self._call("acl.rt.get_run_mode") == ACL_HOST

    def _load(self):
        mdl = self.acl.mdl
        self.model_id = self._call("acl.mdl.load_from_file", str(self.path))
        self.desc = mdl.create_desc()
        self._call("acl.mdl.get_desc", self.desc, self.model_id)
        batch = self._call("acl.mdl.get_input_dims", self.desc, 0)["dims"][0]
        if batch < 1:
            raise AclError(f"{self.path}: the model's batch is dynamic; compile it with a fixed one "
                           "(convert.batch_size)")
        self.batch_size = batch
        outputs = mdl.get_num_outputs(self.desc)
        self.output_dataset = mdl.create_dataset()
        for i in range(outputs):
            size = mdl.get_output_size_by_index(self.desc, i)
            pointer = self._call("acl.rt.malloc", size, MALLOC_NORMAL_ONLY)
            self.output_pointers.append(pointer)
            data_buffer = self.acl.create_data_buffer(pointer, size)
            self.output_data_buffers.append(data_buffer)
            self._call("acl.mdl.add_dataset_buffer", self.output_dataset, data_buffer)

    def run(self, batch: np.ndarray) -> np.ndarray:
        acl = self.acl
        if self.model_id is None:
            raise AclError(f"{self.path}: the backend is closed")
        array = np.ascontiguousarray(batch, np.float32)
        size = acl.mdl.get_input_size_by_index(self.desc, 0)
        if array.nbytes != size:
            raise AclError(f"{self.path}: the model takes {size} bytes per run (batch {self.batch_size}), got "
                           f"{array.nbytes} bytes (float32 {array.shape}); pad with lenet5.backends.run_batches")
        dataset = acl.mdl.create_dataset()
        pointer = data_buffer = None
        try:
            if hasattr(acl.util, "bytes_to_ptr"):
                data = array.tobytes()     # kept referenced until the copy: the pointer is into it
                source = acl.util.bytes_to_ptr(data)
            else:
                source = acl.util.numpy_to_ptr(array)
            pointer = self._call("acl.rt.malloc", size, MALLOC_NORMAL_ONLY)
            kind = HOST_TO_DEVICE if self.host_run_mode else DEVICE_TO_DEVICE
            self._call("acl.rt.memcpy", pointer, size, source, size, kind)
            data_buffer = acl.create_data_buffer(pointer, size)
            self._call("acl.mdl.add_dataset_buffer", dataset, data_buffer)
            self._call("acl.mdl.execute", self.model_id, dataset, self.output_dataset)
        except BaseException:
            self._release_input(dataset, pointer, data_buffer, raise_errors=False)
            raise
        self._release_input(dataset, pointer, data_buffer)
        return self._read_output(0)

    def _release_input(self, dataset, pointer, data_buffer, raise_errors: bool = True):
        steps = [("acl.rt.free", pointer), ("acl.destroy_data_buffer", data_buffer),
                 ("acl.mdl.destroy_dataset", dataset)]
        self._call_all([step for step in steps if step[1] is not None], raise_errors)

    def _read_output(self, index: int) -> np.ndarray:
        acl = self.acl
        dims = self._call("acl.mdl.get_output_dims", self.desc, index)["dims"]
        code = acl.mdl.get_output_data_type(self.desc, index)
        if code not in OUTPUT_TYPES:
            raise AclError(f"{self.path}: output {index} has ACL data type {code}; the app reads float32 (0) or "
                           "float16 (1): recompile the model with float outputs")
        dtype = np.dtype(OUTPUT_TYPES[code])
        data_buffer = acl.mdl.get_dataset_buffer(self.output_dataset, index)
        pointer = acl.get_data_buffer_addr(data_buffer)
        size = acl.get_data_buffer_size(data_buffer)
        count = int(np.prod(dims))
        if size < count * dtype.itemsize:
            raise AclError(f"{self.path}: output {index} holds {size} bytes, too few for dims {dims} of {dtype}")
        data = self._to_host(pointer, size)
        return np.frombuffer(data, dtype, count).reshape(dims).astype(np.float32)

    def _to_host(self, pointer: int, size: int) -> bytes:
        if not self.host_run_mode:
            return self._read_bytes(pointer, size)      # the app runs on the device: its memory is ours
        host = self._call("acl.rt.malloc_host", size)
        try:
            self._call("acl.rt.memcpy", host, size, pointer, size, DEVICE_TO_HOST)
            data = self._read_bytes(host, size)
        except BaseException:
            self._call_all([("acl.rt.free_host", host)], raise_errors=False)
            raise
        self._call("acl.rt.free_host", host)
        return data

    def _read_bytes(self, pointer: int, size: int) -> bytes:
        util = self.acl.util
        if hasattr(util, "ptr_to_bytes"):
            return util.ptr_to_bytes(pointer, size)
        return util.ptr_to_numpy(pointer, (size,), NPY_UINT8).tobytes()    # copies before the memory goes

    def close(self) -> None:
        self._release(raise_errors=True)

    def _release(self, raise_errors: bool):
        """The documented teardown, for whatever was set up; the state is cleared first, so a second call is a no-op."""
        steps = [("acl.rt.free", p) for p in self.output_pointers]
        steps += [("acl.destroy_data_buffer", b) for b in self.output_data_buffers]
        for call, handle in [("acl.mdl.destroy_dataset", self.output_dataset), ("acl.mdl.unload", self.model_id),
                             ("acl.mdl.destroy_desc", self.desc), ("acl.rt.destroy_stream", self.stream),
                             ("acl.rt.destroy_context", self.context)]:
            if handle is not None:
                steps.append((call, handle))
        if self.device_set:
            steps.append(("acl.rt.reset_device", self.device_id))
        if self.initialized:
            steps.append(("acl.finalize",))
        self.output_pointers, self.output_data_buffers = [], []
        self.output_dataset = self.model_id = self.desc = self.stream = self.context = None
        self.initialized = self.device_set = False
        self._call_all(steps, raise_errors)

    def _call_all(self, steps: list[tuple], raise_errors: bool = True):
        """Make every call even if some fail (a release must not stop half-way), then raise the first failure."""
        errors = []
        for call, *args in steps:
            try:
                self._call(call, *args)
            except AclError as err:
                errors.append(err)
        if errors and raise_errors:
            raise errors[0]

    def _call(self, call: str, *args):
        """Call the pyACL function named `call`, which returns `ret` last; raise unless it is 0; return the rest."""
        result = functools.reduce(getattr, call.split(".")[1:], self.acl)(*args)
        *values, ret = result if isinstance(result, tuple) else (result,)
        if ret != 0:
            meaning = f" ({ERROR_CODES[ret]})" if ret in ERROR_CODES else ""
            raise AclError(f"{call} returned {ret}{meaning} for {self.path}")
        return values[0] if values else None
