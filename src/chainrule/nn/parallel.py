"""DistributedDataParallel: one model replica per rank, gradients all-reduced in buckets.

At construction the ranks check that they hold the same model (names, shapes, dtypes of
every parameter and buffer; a difference is a MismatchError naming the rank and the
tensor) and take rank 0's parameters and buffers. In each training step:

1. ``forward`` counts the batch's samples (the first axis of the first argument) and,
   with ``broadcast_buffers``, takes rank 0's buffers (BatchNorm's running statistics),
   as PyTorch does.
2. During ``backward``, each parameter's post-accumulate-grad hook marks it ready; a
   bucket (parameters in reverse registration order, about ``bucket_cap_mb`` each) whose
   parameters are all ready is copied into one flat array and its all-reduce started
   (MPI_Iallreduce), while the backward pass goes on. Buckets start in a fixed order, the
   same on every rank, whatever order their parameters become ready in: MPI pairs
   collectives by their order.
3. When the backward pass ends, the buckets not yet started (parameters this pass did
   not reach) start, all are waited for, and each ``.grad`` receives the result. So the
   gradients are final when ``backward()`` returns, before ``optimizer.step()``.

Averaging over the global batch (``loss_reduction="mean"``, the default): each rank's
loss is the mean over its own samples (the cost function, as ``F.cross_entropy``
gives), so rank r's gradient is g_r = (1/n_r) sum of its samples' gradients. A bucket
carries n_r * g_r and n_r; the all-reduce sums both, and the result divided by the sum
of the n_r is the gradient of the mean over all samples of all ranks: the gradient one
process would compute on the global batch, also when the ranks' batches differ in size
(a last, short batch). With equal batches it is PyTorch's average over ranks.
``loss_reduction="sum"``, for a loss summed over samples, sums the gradients: the
gradient of the global total loss.

``no_sync()``: backward passes inside it only accumulate into ``.grad`` (and their
samples are counted); the next backward outside it all-reduces the accumulated sum.
A parameter that no rank gave a gradient keeps ``grad=None``; one that some ranks did
not reach counts as zero there.

Parameters of another library (PyTorch, CuPy, array-api-strict): the buckets are NumPy
arrays in host memory, which MPI sends; each gradient is copied into its bucket and the
result moved back into the parameter's library (a host round trip per step), and the
initial and buffer broadcasts go the same way.
"""

from __future__ import annotations

import contextlib
import threading

import numpy as np

from chainrule import _backend as B
from chainrule.distributed import collectives as C
from chainrule.distributed import group
from chainrule.distributed.errors import DistributedError, MismatchError
from chainrule.graph import accumulate, grad_mode
from chainrule.nn.module import Module
from chainrule.nn.sync_batchnorm import SyncBatchNorm
from chainrule.tensor import _wrap


class _Bucket:
    """Parameters all-reduced together: their gradients, a flag per parameter (1: this
    rank has a gradient for it) and the sample count, in one flat array."""

    def __init__(self, params: list):
        self.params = params
        self.offsets = np.cumsum([0] + [B.size(p.data) for p in params])
        size = int(self.offsets[-1])
        self.flags = slice(size, size + len(params))
        self.count = size + len(params)
        self.buffer = np.zeros(self.count + 1, dtype=B.numpy_dtype(params[0].data.dtype))
        self.request = None

    def fill(self, scale: float | None, samples: float) -> None:
        buf = self.buffer
        for i, p in enumerate(self.params):
            part = buf[self.offsets[i]:self.offsets[i + 1]]
            if p.grad is None:
                part[...] = 0
                buf[self.flags.start + i] = 0
            else:
                part[...] = B.to_numpy(p.grad.data).reshape(-1)  # NumPy's: itself
                buf[self.flags.start + i] = 1
        if scale is not None:
            buf[:self.flags.start] *= scale
        buf[self.count] = samples

    def unpack(self, mean: bool) -> None:
        buf = self.buffer
        total = buf[self.count]
        for i, p in enumerate(self.params):
            if buf[self.flags.start + i] == 0:
                p.grad = None  # no rank had a gradient for it
                continue
            part = buf[self.offsets[i]:self.offsets[i + 1]].reshape(p.data.shape)
            if mean:
                part = part / total
            g = p.grad
            if B.is_foreign(p.data):  # back to the parameter's library and device
                p.grad = _wrap(B.like(np.array(part), p.data))
            elif g is not None and g.data.flags.writeable and g.data.shape == part.shape:
                g.data[...] = part
            else:
                p.grad = _wrap(np.array(part, dtype=p.data.dtype))


class DistributedDataParallel(Module):
    """``module`` trained on every rank, gradients averaged over the global batch
    (module docstring). ``bucket_cap_mb``: the size of a gradient bucket;
    ``broadcast_buffers``: take rank 0's buffers at every training forward;
    ``loss_reduction``: ``"mean"`` (the loss is a mean over the rank's samples) or
    ``"sum"``. ``find_unused_parameters`` is accepted for PyTorch code and not needed:
    parameters a pass does not reach are handled anyway."""

    def __init__(self, module: Module, bucket_cap_mb: float = 1.0,
                 broadcast_buffers: bool = True, loss_reduction: str = "mean",
                 find_unused_parameters: bool = False, device_ids=None, output_device=None):
        super().__init__()
        _check_args(module, bucket_cap_mb, loss_reduction, device_ids, output_device)
        group._require("DistributedDataParallel")
        self.module = module
        object.__setattr__(self, "_sync", {
            "enabled": True, "armed": False, "samples": 0, "thread": None, "next": 0,
            "ready": [], "waiting": [], "queued": False})
        object.__setattr__(self, "_options", {"broadcast_buffers": broadcast_buffers,
                                              "mean": loss_reduction == "mean",
                                              "find_unused_parameters": find_unused_parameters})
        for layer in module.modules():
            if isinstance(layer, SyncBatchNorm):  # its gradient weights ranks as DDP does
                layer.weighting = "samples" if loss_reduction == "mean" else "none"
        params = [p for p in module.parameters() if p.requires_grad]
        object.__setattr__(self, "_buckets", _make_buckets(params, bucket_cap_mb))
        object.__setattr__(self, "_bucket_of", {
            id(p): b for b, bucket in enumerate(self._buckets) for p in bucket.params})
        if group.world.size > 1:
            _check_same_model(module)
            _broadcast_state(module)
            object.__setattr__(self, "_handles", [
                p.register_post_accumulate_grad_hook(self._on_grad) for p in params])

    # --- forward --------------------------------------------------------------------------

    def forward(self, *args, **kwargs):
        sync = self._sync
        if self.training and grad_mode.is_grad_enabled() and group.world.size > 1:
            sync["samples"] += _samples(args, self._options["mean"])
            if self._options["broadcast_buffers"]:
                self.sync_buffers()
            if sync["enabled"]:
                self._arm()
        return self.module(*args, **kwargs)

    def sync_buffers(self) -> None:
        """Take rank 0's buffers (e.g. before evaluating, so that every rank evaluates the
        model a checkpoint saves)."""
        buffers = [b for _, b in self.module.named_buffers()]
        if buffers and group.world.size > 1:
            _broadcast_tensors(buffers, "DistributedDataParallel: broadcast_buffers")

    @contextlib.contextmanager
    def no_sync(self):
        """Backward passes inside only accumulate gradients locally (gradient
        accumulation); the first backward after it all-reduces the sum."""
        before = self._sync["enabled"]
        self._sync["enabled"] = False
        try:
            yield
        finally:
            self._sync["enabled"] = before

    # --- the gradient all-reduce -----------------------------------------------------------

    def _arm(self) -> None:
        sync = self._sync
        if sync["armed"] and sync["queued"]:
            # the last backward failed half way (its error was raised): start afresh
            sync.update(queued=False)
            group.release()
        elif sync["armed"]:
            return  # a second forward before the backward: one all-reduce covers both
        sync.update(armed=True, thread=threading.get_ident(), next=0, queued=False,
                    waiting=[len(b.params) for b in self._buckets],
                    ready=[False] * len(self._buckets))

    def _on_grad(self, param) -> None:
        sync = self._sync
        if not sync["armed"]:
            return  # under no_sync, or a backward with no training forward before it
        if sync["thread"] != threading.get_ident():
            raise DistributedError(
                "DistributedDataParallel: backward ran in another thread than the forward; "
                "the all-reduces of the ranks must run in one order. help: run forward and "
                "backward of a step in the same thread")
        if not sync["queued"]:
            group.acquire("DistributedDataParallel backward")
            sync["queued"] = True
            try:
                accumulate.queue_callback(self._finish)
            except Exception:
                group.release()
                raise
        b = self._bucket_of[id(param)]
        sync["waiting"][b] -= 1
        if sync["waiting"][b] == 0:
            sync["ready"][b] = True
            while sync["next"] < len(self._buckets) and sync["ready"][sync["next"]]:
                self._launch(sync["next"])
        elif sync["next"]:
            # NOTE: MPI moves a non-blocking collective on only inside MPI calls: a test
            # here lets the started buckets progress while the backward pass runs.
            group.world.mpi.Request.Testall([bk.request for bk in self._buckets[:sync["next"]]
                                             if bk.request is not None])

    def _launch(self, b: int) -> None:
        sync = self._sync
        bucket = self._buckets[b]
        samples = sync["samples"]
        bucket.fill(samples if self._options["mean"] else None, samples)
        bucket.request = C.iall_reduce_array(bucket.buffer)
        sync["next"] = b + 1

    def _finish(self) -> None:
        """At the end of the backward pass: start what is left, wait, write the grads."""
        sync = self._sync
        try:
            while sync["next"] < len(self._buckets):
                self._launch(sync["next"])
            C.wait([b.request for b in self._buckets], "DistributedDataParallel: gradient "
                   "all-reduce")
            first = self._buckets[0]
            if self._options["mean"] and not first.buffer[first.count]:
                raise DistributedError("DistributedDataParallel: no rank counted a sample in "
                                       "this step, so there is no mean to take. help: pass "
                                       "the batch as forward's first argument")
            for bucket in self._buckets:
                bucket.request = None
                bucket.unpack(self._options["mean"])
        finally:
            sync.update(armed=False, samples=0, queued=False)
            group.release()

    def extra_repr(self) -> str:
        sizes = [int(b.offsets[-1]) for b in self._buckets]
        return f"world {group.world.size}, buckets of {sizes} values"


def _check_args(module, bucket_cap_mb, loss_reduction, device_ids, output_device) -> None:
    if not isinstance(module, Module):
        raise TypeError(f"DistributedDataParallel: expected an nn.Module, got "
                        f"{type(module).__name__}")
    if not isinstance(bucket_cap_mb, (int, float)) or not bucket_cap_mb > 0:
        raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be a positive number "
                         f"of megabytes, got {bucket_cap_mb!r}")
    if loss_reduction not in ("mean", "sum"):
        raise ValueError(f"DistributedDataParallel: loss_reduction must be 'mean' (each "
                         f"rank's loss is a mean over its samples) or 'sum', got "
                         f"{loss_reduction!r}")
    for name, value in (("device_ids", device_ids), ("output_device", output_device)):
        if value not in (None, "cpu", ["cpu"]):
            raise ValueError(f"DistributedDataParallel: {name}={value!r}: chainrule runs "
                             "on the CPU, one process per rank. help: drop " + name)


def _make_buckets(params: list, cap_mb: float) -> list:
    """Parameters in reverse order (backward reaches the last layers first), cut into
    buckets of about ``cap_mb`` megabytes, one dtype each."""
    buckets, current, size = [], [], 0
    for p in reversed(params):
        nbytes = B.size(p.data) * B.numpy_dtype(p.data.dtype).itemsize
        if current and (size + nbytes > cap_mb * 2**20
                        or not B.same_dtype(p.data.dtype, current[0].data.dtype)):
            buckets.append(_Bucket(current))
            current, size = [], 0
        current.append(p)
        size += nbytes
    if current:
        buckets.append(_Bucket(current))
    return buckets


def _samples(args, needed: bool) -> int:
    first = args[0] if args else None
    shape = getattr(first, "shape", None)
    if shape:
        return int(shape[0])
    if needed:
        raise DistributedError(
            "DistributedDataParallel: cannot count the samples of this batch (the first "
            f"argument of forward is {type(first).__name__}, with no first axis), and "
            "loss_reduction='mean' weights each rank by its samples. help: pass the batch "
            "(N, ...) first, or use loss_reduction='sum' with a loss summed over samples")
    return 0


def _signature(module: Module) -> list:
    return [(kind, name, tuple(t.shape), str(t.dtype)) for kind, items in
            (("parameter", module.named_parameters()), ("buffer", module.named_buffers()))
            for name, t in items]


def _check_same_model(module: Module) -> None:
    """Every rank's model must have rank 0's parameters and buffers: names, shapes, dtypes."""
    signatures = C.all_gather_object(_signature(module))
    reference = signatures[0]
    for rank, theirs in enumerate(signatures[1:], start=1):
        if theirs == reference:
            continue
        for ours, other in zip(reference, theirs):
            if ours != other:
                raise MismatchError(
                    f"DistributedDataParallel: rank {rank}'s model differs from rank 0's: "
                    f"{other[0]} {other[1]!r} {other[2]} {other[3]} on rank {rank}, "
                    f"{ours[0]} {ours[1]!r} {ours[2]} {ours[3]} on rank 0. help: every rank "
                    "must build the same model (same code and options)")
        raise MismatchError(
            f"DistributedDataParallel: rank {rank}'s model has {len(theirs)} parameters "
            f"and buffers, rank 0's {len(reference)}. help: every rank must build the same "
            "model (same code and options)")


def _broadcast_state(module: Module) -> None:
    """Rank 0's parameters and buffers on every rank."""
    tensors = [t for _, t in module.named_parameters()] + [b for _, b in
                                                           module.named_buffers()]
    _broadcast_tensors(tensors, "DistributedDataParallel: initial parameters")


def _broadcast_tensors(tensors: list, what: str) -> None:
    by_dtype: dict = {}
    for t in tensors:
        by_dtype.setdefault(B.numpy_dtype(t.data.dtype), []).append(t)
    for dtype, same in by_dtype.items():
        flat = np.concatenate([B.to_numpy(t.data).reshape(-1) for t in same]).astype(
            dtype, copy=False)
        C.broadcast_array(flat, 0, what)
        offset = 0
        for t in same:
            n = B.size(t.data)
            part = flat[offset:offset + n].reshape(tuple(t.data.shape))
            t.data[...] = B.like(part, t.data)  # NumPy's: itself
            offset += n
            t.bump_version()

