"""Einstein summation (``einsum``, NumPy's subscripts) and the outer product.

``einsum`` parses its subscripts once into a canonical form, one letter per axis, with no
ellipsis, no implicit output and no broadcasting (an axis of size 1 that broadcasts gets
a letter of its own, summed over its one value), and hands that to the ``Einsum``
primitive. Its VJP is one einsum per input: g contracted with the other inputs, back to
that input's letters; it runs on tensors too, so higher orders come free.
"""

from __future__ import annotations

import math
import string

import numpy as np

from chainrule import _backend as B
from chainrule.errors import ShapeError
from chainrule.ops import positions
from chainrule.ops.core import INPUT, Op, apply, tangent_sum
from chainrule.ops.shape import reshape
from chainrule.tensor import Tensor, as_tensor


class Einsum(Op):
    """y = einsum(``inputs`` -> ``output``, x_1, ..., x_n);
    dx_k = einsum(g, x_j for j != k -> x_k's letters), with a ones vector for each letter
    only x_k has (summed in y, so g is the same along it) and an identity matrix for each
    repeated letter of x_k (its diagonal, as in 'ii->i', alone gets the gradient)

    jvp: dy = sum over k of einsum(x_1, ..., dx_k, ..., x_n)
    """

    portable = True  # PyTorch, CuPy: their own einsum; others: ``pairwise`` (the array
    # API has no einsum)
    backends_note = ("the library's own einsum (PyTorch, CuPy); array-api-strict: pairwise "
                     "matmul")

    def forward(self, *xs):
        self.save(**{f"x{i}": INPUT(i) for i in range(len(xs))})
        if self.xp is not np:
            own = B.native(self.xp, "einsum")
            if own is not None:
                return own(self.spec, *xs)
            return pairwise(self.xp, self.device, list(self.inputs), self.output, list(xs))
        return _numpy_einsum(self.spec, xs)

    def jvp(self, xs, y, dxs):
        terms = [contract(self.spec, [dx if j == k else x for j, x in enumerate(xs)])
                 for k, dx in enumerate(dxs) if dx is not None]
        return tangent_sum(y.shape, *terms)

    def vjp(self, g):
        xs = [getattr(self, f"x{i}") for i in range(len(self.inputs))]
        return tuple(self._grad(k, g, xs) if self.needs(k) else None
                     for k in range(len(xs)))

    def _grad(self, k: int, g, xs):
        mine = self.inputs[k]
        specs = [self.output] + [s for j, s in enumerate(self.inputs) if j != k]
        operands = [g] + [x for j, x in enumerate(xs) if j != k]
        seen = set("".join(specs))
        size = dict(zip(mine, xs[k].shape))
        dtype = B.numpy_dtype(g.dtype)  # a constant in NumPy; apply moves it to g's library
        fresh = iter(sorted(set(string.ascii_letters) - set(self.spec)))
        out = []
        for letter in mine:
            if letter in out:  # a repeated letter: its own letter, tied by an identity
                twin = next(fresh)
                operands.append(np.eye(size[letter], dtype=dtype))
                specs.append(letter + twin)
                out.append(twin)
                continue
            if letter not in seen:  # summed out by x_k alone: g is constant along it
                operands.append(np.ones(size[letter], dtype=dtype))
                specs.append(letter)
                seen.add(letter)
            out.append(letter)
        return contract(",".join(specs) + "->" + "".join(out), operands)


def contract(spec: str, operands: list):
    """einsum on ndarrays or, recorded, on tensors (``spec`` canonical: see the module)."""
    if any(isinstance(x, Tensor) for x in operands):
        inputs, output = spec.split("->")
        return apply(Einsum, *operands, inputs=tuple(inputs.split(",")), output=output,
                     spec=spec)
    return _numpy_einsum(spec, operands)


def _numpy_einsum(spec: str, xs):
    """np.einsum of a canonical ``spec``, with every axis that a broadcast view stores once
    (stride 0) read at its first index, wherever another operand still has that letter.

    vmap's per-sample weights are such views (one weight, expanded to every sample), and
    'zai,zoi->zao' read the whole weight once per sample: 64 matrix-vector products over
    26 MB. 'zai,oi->zao' is one GEMM: 0.50 -> 0.26-0.30 ms on benchmarks/func.py's
    per-sample case. Exact: along that axis the operand is one value; the letter's extent
    and any sum over it stay with the other operand. A letter repeated in one operand (a
    diagonal) keeps its axes."""
    inputs, output = spec.split("->")
    specs = inputs.split(",")
    xs = list(xs)
    for k, x in enumerate(xs):
        if type(x) is not np.ndarray or 0 not in x.strides:
            continue
        keep, index = [], []
        for c, n, stride in zip(specs[k], x.shape, x.strides):
            if (stride == 0 and n > 1 and specs[k].count(c) == 1
                    and any(c in o for j, o in enumerate(specs) if j != k)):
                index.append(0)
            else:
                keep.append(c)
                index.append(slice(None))
        if len(keep) < len(specs[k]):
            specs[k], xs[k] = "".join(keep), x[tuple(index)]
    spec = ",".join(specs) + "->" + output
    return np.einsum(spec, *xs, optimize=_optimize(spec, xs))


def _optimize(spec: str, xs) -> bool:
    """NumPy's ``optimize=`` for a canonical ``spec``: the contraction path for three or
    more operands; for two, unless nothing is summed but axes of size 1. Then the product
    is an outer product (vmap's per-sample gradients of a linear layer: 'zao,zai->zoi' with
    a of size 1), which the path's batched matmul of inner size 1 ran 2x slower than the
    plain loop, and both compute each element as one product, so the result is the same."""
    if len(xs) != 2:
        return len(xs) > 2
    inputs, output = spec.split("->")
    summed = set(inputs) - set(output) - {","}
    sizes = {c: n for s, x in zip(inputs.split(","), xs) for c, n in zip(s, x.shape)}
    return any(sizes[c] != 1 for c in summed)


def pairwise(xp, device, specs: list, output: str, xs: list):
    """einsum (canonical ``specs`` -> ``output``) with the array API alone, for a library with
    no einsum of its own (array-api-strict): each operand's diagonals taken (repeated
    letters), then the operands folded left to right, each pair one batched ``matmul``
    after transposes, letters summed out as soon as no later operand or the output needs
    them. Exact as matmul is; the order of the additions differs from NumPy's einsum."""
    size = {c: n for s, x in zip(specs, xs) for c, n in zip(s, x.shape)}
    for i, (s, x) in enumerate(zip(specs, xs)):
        if len(set(s)) < len(s):  # a diagonal: every repeated axis read at one coordinate
            letters = "".join(dict.fromkeys(s))
            nd = len(letters)
            index = tuple(np.arange(size[c]).reshape(
                (1,) * letters.index(c) + (size[c],) + (1,) * (nd - letters.index(c) - 1))
                for c in s)
            specs[i], xs[i] = letters, positions.take(
                xp, device, x, positions.flat_positions(tuple(x.shape), index))
    spec, acc = specs[0], xs[0]
    for k in range(1, len(xs)):
        later = set(output).union(*specs[k + 1:])
        spec, acc = _pair(xp, spec, acc, specs[k], xs[k], later, size)
    spec, acc = _sum_out(xp, spec, acc, set(output))
    if spec != output:
        acc = xp.permute_dims(acc, tuple(spec.index(c) for c in output))
    return acc


def _sum_out(xp, spec: str, x, keep: set):
    axes = tuple(i for i, c in enumerate(spec) if c not in keep)
    if not axes:
        return spec, x
    return "".join(c for c in spec if c in keep), xp.sum(x, axis=axes)


def _pair(xp, a_spec, a, b_spec, b, later: set, size: dict):
    """The contraction of two operands, keeping the letters in ``later``."""
    a_spec, a = _sum_out(xp, a_spec, a, later | set(b_spec))
    b_spec, b = _sum_out(xp, b_spec, b, later | set(a_spec))
    batch = [c for c in a_spec if c in b_spec and c in later]
    summed = [c for c in a_spec if c in b_spec and c not in later]
    a_only = [c for c in a_spec if c not in b_spec]
    b_only = [c for c in b_spec if c not in a_spec]

    def arranged(spec, x, groups):
        order = [c for group in groups for c in group]
        x = xp.permute_dims(x, tuple(spec.index(c) for c in order))
        return xp.reshape(x, tuple(math.prod(size[c] for c in group) for group in groups))

    product = xp.matmul(arranged(a_spec, a, (batch, a_only, summed)),
                        arranged(b_spec, b, (batch, summed, b_only)))
    spec = "".join(batch + a_only + b_only)
    return spec, xp.reshape(product, tuple(size[c] for c in spec))


# --- parsing -------------------------------------------------------------------------------


def _error(subscripts: str, what: str, hint: str) -> ShapeError:
    return ShapeError(f"einsum: {subscripts!r}: {what}. help: {hint}")


def canonical(subscripts: str, shapes: list) -> tuple[list[str], str]:
    """Each operand's letters and the output's, with '...' spelled out, the implicit output
    made explicit and every broadcast axis of size 1 renamed (see the module docstring)."""
    if not isinstance(subscripts, str):
        raise TypeError("einsum: the subscripts must be a string such as 'ij,jk->ik'. help: "
                        "the sublist form einsum(a, [0, 1], b, [1, 2]) is not supported")
    text = subscripts.replace(" ", "")
    lhs, arrow, rhs = text.partition("->")
    if "->" in rhs:
        raise _error(subscripts, "more than one '->'", "write inputs->output once")
    specs = lhs.split(",")
    if len(specs) != len(shapes):
        raise _error(subscripts, f"{len(specs)} operand(s) named for {len(shapes)} given",
                     "give one comma-separated group of letters per operand")
    for part in specs + ([rhs] if arrow else []):
        body = part.replace("...", "", 1)
        if not all(c in string.ascii_letters for c in body):
            raise _error(subscripts, f"{part!r} holds something other than letters and one "
                         "'...'", "use the letters a-z and A-Z, and '...' at most once each")
    letters = set(text) & set(string.ascii_letters)
    fresh = iter(sorted(set(string.ascii_letters) - letters))
    ell_ndim = [len(shape) - (len(s) - 3) if "..." in s else 0 for s, shape in zip(specs, shapes)]
    ell = [next(fresh) for _ in range(max(ell_ndim, default=0))]
    inputs = []
    for s, shape, n in zip(specs, shapes, ell_ndim):
        named = s.replace("...", "".join(ell[len(ell) - n:]) if n > 0 else "")
        if n < 0 or len(named) != len(shape):
            raise _error(subscripts, f"{s!r} names {len(s.replace('...', ''))} axes for an "
                         f"operand of shape {tuple(shape)}", "name every axis once (or use "
                         "'...' for the leading ones)")
        inputs.append(named)
    if arrow:
        output = rhs.replace("...", "".join(ell))
    else:  # NumPy's implicit output: the broadcast axes, then the letters used once, sorted
        counts = "".join(s.replace("...", "") for s in specs)
        output = "".join(ell) + "".join(sorted(c for c in set(counts) if counts.count(c) == 1))
    inputs = _sizes(subscripts, inputs, shapes, fresh)
    if len(set(output)) != len(output):
        raise _error(subscripts, "the output repeats a letter", "name each output axis once "
                     "(an output like 'i->ii' has no NumPy meaning)")
    missing = set(output) - set("".join(inputs))
    if missing:
        raise _error(subscripts, f"output letter(s) {''.join(sorted(missing))} appear in no "
                     "input", "every output letter must name an axis of some input")
    return inputs, output


def _sizes(subscripts, inputs, shapes, fresh) -> list[str]:
    """Check that each letter has one size; rename the axes of size 1 that broadcast."""
    size: dict = {}
    for s, shape in zip(inputs, shapes):
        mine = {}
        for c, n in zip(s, shape):
            if mine.setdefault(c, n) != n:
                raise _error(subscripts, f"the repeated letter {c!r} in {s!r} names axes of "
                             f"sizes {mine[c]} and {n}", "a repeated letter takes a diagonal: "
                             "its axes must have the same size")
            if size.get(c, 1) == 1:
                size[c] = n
            elif n not in (1, size[c]):
                raise _error(subscripts, f"letter {c!r} stands for axes of sizes {size[c]} and "
                             f"{n}", "axes with the same letter must have the same size (or "
                             "size 1, which broadcasts)")
    out = []
    for s, shape in zip(inputs, shapes):
        renamed = {}
        for c, n in zip(s, shape):
            if n == 1 and size[c] != 1 and c not in renamed:
                renamed[c] = next(fresh, None)
                if renamed[c] is None:
                    raise _error(subscripts, "too many axes", "use at most 52 letters in all")
        out.append("".join(renamed.get(c, c) for c in s))
    return out


# --- public functions ----------------------------------------------------------------------


def einsum(subscripts, *operands):
    """NumPy's einsum with its subscripts ('ij,jk->ik', implicit output, '...',
    repeated letters for diagonals and traces); PyTorch's list form ``einsum(s, [a, b])``
    works too. Broadcasting follows NumPy: an axis of size 1 stretches to its letter's size.
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = operands[0]
    if not operands:
        raise ValueError("einsum: no operands. help: einsum('ij,jk->ik', a, b)")
    tensors = [as_tensor(x) for x in operands]
    inputs, output = canonical(subscripts, [t.shape for t in tensors])
    spec = ",".join(inputs) + "->" + output
    return apply(Einsum, *tensors, inputs=tuple(inputs), output=output, spec=spec)


def outer(a, b):
    """The outer product of two vectors, ``y[i, j] = a[i] * b[j]`` (PyTorch's torch.outer),
    as a column times a row; gradients: da = g @ b, db = g^T @ a."""
    a, b = as_tensor(a), as_tensor(b)
    if a.ndim != 1 or b.ndim != 1:
        raise ShapeError(f"outer: needs two 1-d tensors, got shapes {a.shape} and {b.shape}. "
                         "help: flatten them first (t.reshape(-1)), or use cr.einsum for "
                         "other shapes")
    return reshape(a, (-1, 1)) * reshape(b, (1, -1))
