"""``vmap(f, in_dims=0, out_dims=0, randomness='error')``: f mapped over a batch axis,
torch.func's signature.

f runs once, on batched tensors (func/batched.py) that look like one sample; each op
then runs on the whole batch by its batching rule (func/batching.py), or as a loop over
the samples where it has none. Where f reads a batched value (``item()``, an ``if`` on
a tensor, ``.numpy()``), or draws random numbers under ``randomness='different'``, vmap
runs f once per sample instead and stacks the results: the same answer, at a loop's
cost. It nests with itself and with every transform: ``vmap(grad(loss), in_dims=(None,
0, 0))`` gives per-sample gradients (the gradient of an unmapped weight becomes one
gradient per sample), ``vmap(jacrev(f))`` a Jacobian per sample.
"""

from __future__ import annotations

import warnings

from chainrule import _backend as B
from chainrule.errors import ShapeError, VmapError
from chainrule.func import batched
from chainrule.func._args import check_fn
from chainrule.func.batched import BatchedRead, BatchedTensor, physical, size_of, wrap
from chainrule.func.layout import array, is_array
from chainrule.graph import batching_mode
from chainrule.ops.shape import broadcast_to, concatenate, expand_dims, stack, transpose
from chainrule.tensor import Tensor, as_tensor

_RANDOMNESS = ("error", "different", "same")


class VmapLoopWarning(UserWarning):
    """vmap ran a function as a loop over the samples (correct, not batched)."""


def vmap(func, in_dims=0, out_dims=0, randomness: str = "error", *, chunk_size=None):
    """``vmap(f, in_dims, out_dims)(*args)``: f applied to each slice of the args along
    their ``in_dims`` (an int for all, or one entry per argument: an int, None = not
    mapped (passed whole), or for a tuple/list/dict argument a matching structure),
    results stacked along ``out_dims`` (an int, or one per output). ``randomness``:
    'error' (a random draw in f raises), 'different' (each sample draws its own) or
    'same' (one draw shared by all samples), as torch.func's. ``chunk_size``: run at
    most that many samples at once (less memory, more calls), the results joined."""
    check_fn(func, "vmap")
    if randomness not in _RANDOMNESS:
        raise ValueError(f"vmap: randomness must be one of {_RANDOMNESS}, got "
                         f"{randomness!r}")
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"vmap: chunk_size must be a positive int or None, got {chunk_size!r}")

    def wrapped(*args, **kwargs):
        dims = _in_dims(in_dims, args)
        leaves = []
        _leaves(args, dims, leaves)
        sizes = {a.shape[d] for a, d in leaves if d is not None}
        if len(sizes) != 1:
            raise ShapeError(
                f"vmap: the mapped axes have sizes {sorted(sizes)}. help: every mapped "
                "argument needs the same batch size" if sizes else
                "vmap: no argument is mapped (in_dims is None for every tensor). help: map "
                "at least one argument (an int in in_dims)")
        n = sizes.pop()
        if chunk_size is not None and n > chunk_size:  # a part of the batch at a time
            parts = [wrapped(*_structure_all(args, dims, slice(i, min(i + chunk_size, n))),
                             **kwargs)  # a stop past the end: the array API leaves it open
                     for i in range(0, n, chunk_size)]
            return _joined(parts, out_dims)
        if randomness == "different":  # each sample draws its own: one call per sample
            return _loop(func, args, dims, kwargs, n, out_dims, randomness)
        level = batching_mode.enter(n)
        try:
            with _RandomGuard(randomness):
                out = func(*_map(args, dims, level), **kwargs)
            return _unbatch(out, out_dims, level, n)
        except BatchedRead as e:
            if e.level != level:
                raise
            reason = str(e).split(". help")[0].removeprefix("vmap: ")
        finally:
            batching_mode.exit(level)
        if batched.log.looped is not None:
            batched.log.looped.append(f"whole function: {reason}")
        warnings.warn(f"vmap ran {getattr(func, '__name__', 'f')} as a loop over its {n} "
                      f"samples: {reason}", VmapLoopWarning, stacklevel=2)
        return _loop(func, args, dims, kwargs, n, out_dims, randomness)

    return wrapped


# --- in_dims ---------------------------------------------------------------------------


def _in_dims(in_dims, args) -> tuple:
    if in_dims is None or isinstance(in_dims, int):
        return (in_dims,) * len(args)
    if not isinstance(in_dims, (tuple, list)):
        raise TypeError(f"vmap: in_dims must be an int, None or a tuple, got "
                        f"{type(in_dims).__name__}")
    if len(in_dims) != len(args):
        raise ValueError(f"vmap: in_dims has {len(in_dims)} entries for {len(args)} "
                         "argument(s). help: one int or None per positional argument")
    return tuple(in_dims)


def _leaves(arg, dim, out: list) -> None:
    """(leaf, its in_dim) for every tensor-like leaf of ``arg`` (tuples, lists, dicts)."""
    if isinstance(arg, (tuple, list)) and not (dim is None or isinstance(dim, int)):
        if not isinstance(dim, (tuple, list)) or len(dim) != len(arg):
            raise ValueError(f"vmap: in_dims {dim!r} does not match an argument with "
                             f"{len(arg)} entries. help: one in_dim per entry, or one int")
        for a, d in zip(arg, dim):
            _leaves(a, d, out)
    elif isinstance(arg, (tuple, list)):
        for a in arg:
            _leaves(a, dim, out)
    elif isinstance(arg, dict):
        if isinstance(dim, dict):
            for k, a in arg.items():
                _leaves(a, dim.get(k), out)
        else:
            for a in arg.values():
                _leaves(a, dim, out)
    elif dim is not None:
        if not isinstance(dim, int) or isinstance(dim, bool):
            raise TypeError(f"vmap: an in_dim must be an int or None, got {dim!r}")
        if not (isinstance(arg, Tensor) or is_array(arg)):
            raise TypeError(f"vmap: a mapped argument must be a tensor or an array, got "
                            f"{type(arg).__name__}. help: give it in_dim None")
        ndim = arg.ndim
        if not -ndim <= dim < ndim:
            raise ShapeError(f"vmap: in_dim {dim} is out of range for an argument of shape "
                             f"{tuple(arg.shape)}. help: in_dims names the batch axis "
                             "of each argument")
        out.append((arg, dim % ndim))
    else:
        out.append((arg, None))


def _structure(arg, dim, leaf):
    """``arg`` rebuilt with ``leaf(x, d)`` for each leaf ``x`` with in_dim ``d``."""
    if isinstance(arg, (tuple, list)):
        ds = dim if isinstance(dim, (tuple, list)) else (dim,) * len(arg)
        return type(arg)(_structure(a, d, leaf) for a, d in zip(arg, ds))
    if isinstance(arg, dict):
        return {k: _structure(a, dim.get(k) if isinstance(dim, dict) else dim, leaf)
                for k, a in arg.items()}
    return leaf(arg, dim)


def _map(args, dims, level):
    def leaf(x, d):
        if d is None:
            return x
        x = as_tensor(x)
        d %= x.ndim
        return wrap(_moved(x, d, 0), level)
    return tuple(_structure(a, d, leaf) for a, d in zip(args, dims))


def _moved(x, src: int, dst: int):
    if src == dst:
        return x
    axes = list(range(x.ndim))
    axes.insert(dst, axes.pop(src))
    return transpose(x, tuple(axes))


def _structure_all(args, dims, part: slice) -> tuple:
    """``args`` with each mapped leaf cut to ``part`` of its batch axis."""
    def leaf(x, d):
        if d is None:
            return x
        d %= x.ndim
        index = (slice(None),) * d + (part,)
        return x[index] if isinstance(x, Tensor) else array(x)[index]
    return tuple(_structure(a, d, leaf) for a, d in zip(args, dims))


def _joined(parts, out_dims):
    """The chunks' results joined along each output's batch axis."""
    first = parts[0]
    if isinstance(first, Tensor):
        return first if out_dims is None else concatenate(parts, axis=out_dims)
    if isinstance(first, dict):
        return {k: _joined([p[k] for p in parts],
                           out_dims.get(k) if isinstance(out_dims, dict) else out_dims)
                for k in first}
    dims = (out_dims,) * len(first) if out_dims is None or isinstance(out_dims, int) \
        else tuple(out_dims)
    return type(first)(_joined([p[i] for p in parts], dims[i]) for i in range(len(first)))


# --- outputs ---------------------------------------------------------------------------


def _unbatch(out, out_dims, level, n):
    if isinstance(out, (tuple, list)):
        dims = (out_dims,) * len(out) if out_dims is None or isinstance(out_dims, int) \
            else tuple(out_dims)
        if len(dims) != len(out):
            raise ValueError(f"vmap: out_dims has {len(dims)} entries for {len(out)} "
                             "outputs. help: one int per output, or one int for all")
        return type(out)(_unbatch(o, d, level, n) for o, d in zip(out, dims))
    if isinstance(out, dict):
        return {k: _unbatch(o, out_dims.get(k) if isinstance(out_dims, dict) else out_dims,
                            level, n) for k, o in out.items()}
    if not isinstance(out, Tensor):
        raise TypeError(f"vmap: f must return tensors (or tuples of them), got "
                        f"{type(out).__name__}")
    mine = isinstance(out, BatchedTensor) and out._level == level
    if not mine:
        _, levels = physical(out)
        if any(lv > level for lv in levels):
            size_of(-1)  # raises: a batched tensor of a closed inner vmap
    if out_dims is None:
        if mine:
            raise VmapError("vmap: out_dims is None for an output that depends on the mapped "
                            "inputs. help: give it an int out_dim")
        return out
    if not isinstance(out_dims, int):
        raise TypeError(f"vmap: out_dims must be an int or None per output, got {out_dims!r}")
    ndim = out.ndim + 1
    if not -ndim <= out_dims < ndim:
        raise ShapeError(f"vmap: out_dim {out_dims} is out of range for an output of "
                         f"{out.ndim} dimension(s) (plus the batch axis)")
    value = out._value if mine else broadcast_to(expand_dims(out, 0), (n,) + out.shape)
    return _moved(value, 0, out_dims % ndim)


# --- the loop (randomness='different', or f reads a batched value) ---------------------


def _loop(func, args, dims, kwargs, n, out_dims, randomness):
    gen = B.random.generator
    state = gen.bit_generator.state if randomness == "same" else None
    results = []
    for b in range(n):
        if state is not None:  # every sample draws the same numbers
            gen.bit_generator.state = state

        def leaf(x, d, b=b):
            if d is None:
                return x
            d %= x.ndim
            index = (slice(None),) * d + (b,)
            return x[index] if isinstance(x, Tensor) else as_tensor(array(x)[index])

        call = tuple(_structure(a, d, leaf) for a, d in zip(args, dims))
        with _RandomGuard(randomness):
            results.append(func(*call, **kwargs))
    return _stack(results, out_dims)


def _stack(results, out_dims):
    first = results[0]
    if isinstance(first, Tensor):
        if out_dims is None:
            return first
        return stack(results, axis=out_dims)
    if isinstance(first, (tuple, list)):
        dims = (out_dims,) * len(first) if out_dims is None or isinstance(out_dims, int) \
            else tuple(out_dims)
        return type(first)(_stack([r[i] for r in results], dims[i])
                           for i in range(len(first)))
    if isinstance(first, dict):
        return {k: _stack([r[k] for r in results],
                          out_dims.get(k) if isinstance(out_dims, dict) else out_dims)
                for k in first}
    raise TypeError(f"vmap: f must return tensors (or tuples of them), got "
                    f"{type(first).__name__}")


# --- randomness ------------------------------------------------------------------------


class _Refuse:
    """Stands in for the random generator under randomness='error'."""

    def __getattr__(self, name):
        raise VmapError("vmap: a random draw (dropout, cr.rand, cr.randn ...) inside vmap "
                        "with randomness='error'. help: pass randomness='different' (each "
                        "sample draws its own) or 'same' (one draw for all samples)")


class _RandomGuard:
    """randomness='error': every draw in this thread refuses, until the call is done."""

    def __init__(self, randomness: str):
        self.generator = _Refuse() if randomness == "error" else None

    def __enter__(self):
        self.token = B.random.override(self.generator)
        return self

    def __exit__(self, *exc):
        B.random.restore(self.token)
