"""TEST DOUBLE of pyACL, CANN's Python `acl` module: not Ascend hardware, not CANN; nothing here ran on an NPU.

It follows the documented pyACL interface (docs/ascend.md): the same function names and arguments, the same return
shapes (`ret` last, 0 = success; some calls return a value only) and the documented error codes, so that AclBackend's
call sequence, memory handling and teardown can be tested on any machine:

- `calls` records every call in order as (name, args); `names()` gives the names;
- device memory is simulated (pointer -> bytearray); memcpy checks its sizes against the allocations and its kind
  against the run mode (ACL_HOST: host <-> device copies; ACL_DEVICE: the app runs on the device, copies are kind 3);
- `execute` checks the datasets against the model's input and output sizes and computes the outputs with ONNX Runtime
  on the ONNX file that stands in for the .om, at a fixed batch;
- `fail(call, code)` makes a call return an error code; `leaks()` lists whatever is still held.

It is stricter than the runtime about order (a context cannot go while its stream lives, a device cannot be reset
while a context lives, acl cannot be finalized while a device is set), so a backend that passes here releases in the
documented order. Misuse the real library would answer with a crash, not a code, raises AclDoubleMisuse.
"""

import itertools
import os
import types

import numpy as np
import onnxruntime as ort

SUCCESS = 0
INVALID_PARAM, INVALID_FILE, MODEL_INPUT_MISMATCH = 100000, 100003, 100017
ACL_DEVICE, ACL_HOST = 0, 1
ACL_FLOAT, ACL_FLOAT16, ACL_INT32 = 0, 1, 3
DATA_TYPES = {ACL_FLOAT: np.float32, ACL_FLOAT16: np.float16, ACL_INT32: np.int32}
NPY_TYPES = {np.dtype(t).num: t for t in (np.uint8, np.float16, np.float32)}     # for ptr_to_numpy
COPY_SIDES = {0: ("host", "host"), 1: ("host", "device"), 2: ("device", "host"), 3: ("device", "device")}

# What each call returns: "ret", "pair" (value, ret) or "value" (no ret, so it cannot be made to fail).
RETURNS = {
    "acl.init": "ret", "acl.finalize": "ret",
    "acl.rt.set_device": "ret", "acl.rt.reset_device": "ret",
    "acl.rt.create_context": "pair", "acl.rt.destroy_context": "ret",
    "acl.rt.create_stream": "pair", "acl.rt.destroy_stream": "ret",
    "acl.rt.get_run_mode": "pair",
    "acl.rt.malloc": "pair", "acl.rt.free": "ret",
    "acl.rt.malloc_host": "pair", "acl.rt.free_host": "ret",
    "acl.rt.memcpy": "ret",
    "acl.mdl.load_from_file": "pair", "acl.mdl.unload": "ret",
    "acl.mdl.create_desc": "value", "acl.mdl.get_desc": "ret", "acl.mdl.destroy_desc": "ret",
    "acl.mdl.get_num_inputs": "value", "acl.mdl.get_num_outputs": "value",
    "acl.mdl.get_input_size_by_index": "value", "acl.mdl.get_output_size_by_index": "value",
    "acl.mdl.get_input_dims": "pair", "acl.mdl.get_output_dims": "pair",
    "acl.mdl.get_output_data_type": "value",
    "acl.mdl.create_dataset": "value", "acl.mdl.add_dataset_buffer": "pair",
    "acl.mdl.get_dataset_buffer": "value", "acl.mdl.get_dataset_num_buffers": "value",
    "acl.mdl.destroy_dataset": "ret",
    "acl.mdl.execute": "ret",
    "acl.create_data_buffer": "value", "acl.destroy_data_buffer": "ret",
    "acl.get_data_buffer_addr": "value", "acl.get_data_buffer_size": "value",
    "acl.util.bytes_to_ptr": "value", "acl.util.numpy_to_ptr": "value",
    "acl.util.ptr_to_bytes": "value", "acl.util.ptr_to_numpy": "value",
}
NEWER_CANN_ONLY = {"acl.util.bytes_to_ptr", "acl.util.ptr_to_bytes"}


class AclDoubleMisuse(AssertionError):
    """A call the real library would not answer with an error code (it would crash or corrupt memory)."""


class _Code(Exception):
    def __init__(self, code):
        self.code = code


def _require(condition, code=INVALID_PARAM):
    if not condition:
        raise _Code(code)


class AclDouble:
    """`module` is the stand-in `acl`; the .om it loads is answered by `onnx_path` at `batch_size`."""

    def __init__(self, onnx_path, batch_size=1, run_mode=ACL_HOST, output_type=ACL_FLOAT, old_cann=False):
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self.input_dims = [self._fixed_dims(i.shape, batch_size) for i in self.session.get_inputs()]
        self.output_dims = [self._fixed_dims(o.shape, batch_size) for o in self.session.get_outputs()]
        self.run_mode, self.output_type = run_mode, output_type
        self.calls, self.failures = [], {}
        self.handles, self.model_ids = itertools.count(0x10000, 0x100), itertools.count(1)
        self.initialized, self.devices, self.current_context = False, set(), None
        self.contexts, self.streams = set(), {}            # stream -> its context
        self.device_memory, self.host_memory = {}, {}      # pointer -> bytearray (rt.malloc, rt.malloc_host)
        self.python_memory = {}                            # bytes_to_ptr / numpy_to_ptr: memory Python owns
        self.models, self.descs = {}, {}                   # model id -> path; desc -> model id (None until get_desc)
        self.datasets, self.data_buffers = {}, {}          # dataset -> [data buffer]; data buffer -> (pointer, size)
        self.module = self._build_module(old_cann)

    @staticmethod
    def _fixed_dims(shape, batch_size):
        dims = [batch_size, *shape[1:]]
        if not all(isinstance(d, int) for d in dims):
            raise ValueError(f"the stand-in ONNX model needs fixed dims after the batch, got {shape}")
        return dims

    # --- for tests ---

    def names(self):
        return [name for name, _ in self.calls]

    def fail(self, call, code):
        """Make every later `call` return `code` (0 lets it succeed again)."""
        if RETURNS[call] == "value":
            raise ValueError(f"{call} returns no code, so it cannot be made to fail")
        self.failures[call] = code

    def leaks(self):
        held = {"device buffers": self.device_memory, "host buffers": self.host_memory, "datasets": self.datasets,
                "data buffers": self.data_buffers, "models": self.models, "model descriptions": self.descs,
                "streams": self.streams, "contexts": self.contexts, "devices": self.devices}
        found = [f"{len(things)} {kind}" for kind, things in held.items() if things]
        return found + (["acl not finalized"] if self.initialized else [])

    def _build_module(self, old_cann):
        module = types.ModuleType("acl", "TEST DOUBLE of pyACL (tests/acl_double.py), not CANN")
        for part in ("rt", "mdl", "util"):
            setattr(module, part, types.SimpleNamespace())
        for call, returns in RETURNS.items():
            if old_cann and call in NEWER_CANN_ONLY:
                continue
            *parts, name = call.split(".")[1:]
            setattr(getattr(module, parts[0]) if parts else module, name, self._recorded(call, returns))
        return module

    def _recorded(self, call, returns):
        implementation = getattr(self, call.removeprefix("acl.").replace(".", "_"))

        def recorded_call(*args):
            self.calls.append((call, args))
            try:
                if self.failures.get(call):
                    raise _Code(self.failures[call])
                value = implementation(*args)
            except _Code as err:
                return err.code if returns == "ret" else (None, err.code)
            return SUCCESS if returns == "ret" else (value, SUCCESS) if returns == "pair" else value
        return recorded_call

    # --- memory ---

    def _region(self, pointer):
        for memory in (self.device_memory, self.host_memory, self.python_memory):
            if pointer in memory:
                return memory[pointer]
        raise _Code(INVALID_PARAM)

    def _side(self, pointer):
        """Where memory lives as the app sees it: on a device run, all of it is device memory."""
        return "device" if pointer in self.device_memory or self.run_mode == ACL_DEVICE else "host"

    def _new_handle(self):
        return next(self.handles)

    # --- acl ---

    def init(self):
        _require(not self.initialized)
        self.initialized = True

    def finalize(self):
        _require(self.initialized and not self.devices)
        self.initialized = False

    def create_data_buffer(self, pointer, size):
        try:
            region = self._region(pointer)
        except _Code:
            raise AclDoubleMisuse(f"create_data_buffer on unknown pointer {pointer:#x}") from None
        if size > len(region):
            raise AclDoubleMisuse(f"create_data_buffer of {size} bytes over a {len(region)}-byte allocation")
        handle = self._new_handle()
        self.data_buffers[handle] = (pointer, size)
        return handle

    def destroy_data_buffer(self, data_buffer):
        _require(data_buffer in self.data_buffers)
        del self.data_buffers[data_buffer]

    def get_data_buffer_addr(self, data_buffer):
        return self._data_buffer(data_buffer)[0]

    def get_data_buffer_size(self, data_buffer):
        return self._data_buffer(data_buffer)[1]

    def _data_buffer(self, data_buffer):
        if data_buffer not in self.data_buffers:
            raise AclDoubleMisuse(f"unknown data buffer {data_buffer!r}")
        return self.data_buffers[data_buffer]

    # --- acl.rt ---

    def rt_set_device(self, device_id):
        _require(self.initialized and device_id == 0 and device_id not in self.devices)
        self.devices.add(device_id)

    def rt_reset_device(self, device_id):
        _require(device_id in self.devices and not self.contexts)
        self.devices.remove(device_id)

    def rt_create_context(self, device_id):
        _require(device_id in self.devices)
        self.current_context = self._new_handle()
        self.contexts.add(self.current_context)
        return self.current_context

    def rt_destroy_context(self, context):
        _require(context in self.contexts and context not in self.streams.values())
        self.contexts.remove(context)
        if context == self.current_context:
            self.current_context = None

    def rt_create_stream(self):
        _require(self.current_context is not None)
        stream = self._new_handle()
        self.streams[stream] = self.current_context
        return stream

    def rt_destroy_stream(self, stream):
        _require(stream in self.streams)
        del self.streams[stream]

    def rt_get_run_mode(self):
        _require(self.current_context is not None)
        return self.run_mode

    def rt_malloc(self, size, policy):
        _require(self.current_context is not None and isinstance(size, int) and size > 0 and policy in (0, 1, 2))
        pointer = self._new_handle()
        self.device_memory[pointer] = bytearray(size)
        return pointer

    def rt_free(self, pointer):
        _require(pointer in self.device_memory)
        del self.device_memory[pointer]

    def rt_malloc_host(self, size):
        _require(self.current_context is not None and isinstance(size, int) and size > 0)
        pointer = self._new_handle()
        self.host_memory[pointer] = bytearray(size)
        return pointer

    def rt_free_host(self, pointer):
        _require(pointer in self.host_memory)
        del self.host_memory[pointer]

    def rt_memcpy(self, destination, destination_max, source, count, kind):
        target, origin = self._region(destination), self._region(source)
        _require(kind in COPY_SIDES and count <= destination_max <= len(target) and count <= len(origin))
        _require(COPY_SIDES[kind] == (self._side(source), self._side(destination)))
        if destination in self.python_memory:
            raise AclDoubleMisuse("memcpy into memory Python owns (from bytes_to_ptr / numpy_to_ptr)")
        target[:count] = origin[:count]

    # --- acl.mdl ---

    def mdl_load_from_file(self, path):
        _require(self.current_context is not None)
        _require(os.path.isfile(path), INVALID_FILE)
        model_id = next(self.model_ids)
        self.models[model_id] = path
        return model_id

    def mdl_unload(self, model_id):
        _require(model_id in self.models)
        del self.models[model_id]

    def mdl_create_desc(self):
        desc = self._new_handle()
        self.descs[desc] = None
        return desc

    def mdl_get_desc(self, desc, model_id):
        _require(desc in self.descs and model_id in self.models)
        self.descs[desc] = model_id

    def mdl_destroy_desc(self, desc):
        _require(desc in self.descs)
        del self.descs[desc]

    def _filled(self, desc):
        if self.descs.get(desc) is None:
            raise AclDoubleMisuse(f"model description {desc!r} unknown or not filled by get_desc")

    def mdl_get_num_inputs(self, desc):
        self._filled(desc)
        return len(self.input_dims)

    def mdl_get_num_outputs(self, desc):
        self._filled(desc)
        return len(self.output_dims)

    def mdl_get_input_size_by_index(self, desc, index):
        self._filled(desc)
        return int(np.prod(self.input_dims[index])) * 4      # float32, as ATC compiles LeNet's input

    def mdl_get_output_size_by_index(self, desc, index):
        self._filled(desc)
        return int(np.prod(self.output_dims[index])) * np.dtype(DATA_TYPES[self.output_type]).itemsize

    def _dims(self, desc, index, dims):
        _require(self.descs.get(desc) is not None and 0 <= index < len(dims))
        return {"name": f"tensor{index}", "dimCount": len(dims[index]), "dims": list(dims[index])}

    def mdl_get_input_dims(self, desc, index):
        return self._dims(desc, index, self.input_dims)

    def mdl_get_output_dims(self, desc, index):
        return self._dims(desc, index, self.output_dims)

    def mdl_get_output_data_type(self, desc, index):
        self._filled(desc)
        return self.output_type

    def mdl_create_dataset(self):
        dataset = self._new_handle()
        self.datasets[dataset] = []
        return dataset

    def mdl_add_dataset_buffer(self, dataset, data_buffer):
        _require(dataset in self.datasets and data_buffer in self.data_buffers)
        self.datasets[dataset].append(data_buffer)
        return dataset

    def mdl_get_dataset_buffer(self, dataset, index):
        if dataset not in self.datasets or not 0 <= index < len(self.datasets[dataset]):
            raise AclDoubleMisuse(f"no buffer {index} in dataset {dataset!r}")
        return self.datasets[dataset][index]

    def mdl_get_dataset_num_buffers(self, dataset):
        return len(self.datasets[dataset])

    def mdl_destroy_dataset(self, dataset):
        _require(dataset in self.datasets)
        del self.datasets[dataset]      # like the runtime, this leaves the data buffers to the caller

    def mdl_execute(self, model_id, input_dataset, output_dataset):
        _require(model_id in self.models and input_dataset in self.datasets and output_dataset in self.datasets)
        inputs, outputs = self.datasets[input_dataset], self.datasets[output_dataset]
        _require(len(inputs) == len(self.input_dims) and len(outputs) == len(self.output_dims))
        for data_buffer in inputs + outputs:
            _require(data_buffer in self.data_buffers and self.data_buffers[data_buffer][0] in self.device_memory)
        feeds = {}
        for model_input, dims, data_buffer in zip(self.session.get_inputs(), self.input_dims, inputs):
            pointer, size = self.data_buffers[data_buffer]
            _require(size == int(np.prod(dims)) * 4, MODEL_INPUT_MISMATCH)
            feeds[model_input.name] = np.frombuffer(bytes(self.device_memory[pointer][:size]), np.float32).reshape(dims)
        results = self.session.run(None, feeds)
        for result, data_buffer in zip(results, outputs):
            pointer, size = self.data_buffers[data_buffer]
            data = result.astype(DATA_TYPES[self.output_type]).tobytes()
            _require(size >= len(data))
            self.device_memory[pointer][:len(data)] = data

    # --- acl.util ---

    def util_bytes_to_ptr(self, data):
        if not isinstance(data, bytes):
            raise AclDoubleMisuse(f"bytes_to_ptr takes bytes, got {type(data).__name__}")
        pointer = self._new_handle()
        self.python_memory[pointer] = bytearray(data)
        return pointer

    def util_numpy_to_ptr(self, array):
        if not isinstance(array, np.ndarray) or not array.flags.c_contiguous:
            raise AclDoubleMisuse("numpy_to_ptr takes a C-contiguous numpy array")
        pointer = self._new_handle()
        self.python_memory[pointer] = bytearray(array.tobytes())
        return pointer

    def _readable(self, pointer, size):
        try:
            region = self._region(pointer)
        except _Code:
            raise AclDoubleMisuse(f"reading unknown pointer {pointer!r}") from None
        if self._side(pointer) == "device" and self.run_mode == ACL_HOST:
            raise AclDoubleMisuse("reading device memory from the host: copy it with memcpy kind 2 first")
        if size > len(region):
            raise AclDoubleMisuse(f"reading {size} bytes from a {len(region)}-byte allocation")
        return region

    def util_ptr_to_bytes(self, pointer, size):
        return bytes(self._readable(pointer, size)[:size])

    def util_ptr_to_numpy(self, pointer, shape, npy_type):
        dtype = np.dtype(NPY_TYPES[npy_type])
        count = int(np.prod(shape))
        return np.frombuffer(self._readable(pointer, count * dtype.itemsize), dtype, count).reshape(shape)
