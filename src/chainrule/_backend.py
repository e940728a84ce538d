"""The one seam to array libraries: NumPy, and any library with the Python array API
(PyTorch, CuPy, array-api-strict), reached through ``array_api_compat``.

An op never asks which library it runs on; ``core.apply`` gives it the namespace of its
inputs as ``self.xp`` (NumPy itself unless an input is another library's array), and the
op calls ``self.xp.exp(x)`` where it called ``np.exp(x)``. NumPy-only fast paths
(``np.add.at``, ``einsum``, ``out=`` buffers, frozen saved arrays) stay behind the check
``self.xp is np``, with a portable path beside each (docs/backends.md lists which op takes
which path on which backend).

The NumPy path costs nothing extra: ``apply`` reaches this module only when an input is
not an ndarray (``type(a) is not np.ndarray``), and every function here tests NumPy first.

Also here, decided in one place: how Python data becomes an array, the default float
dtype, the RNG, and the explicit moves between libraries (``to_numpy``, ``convert``). A
move is never hidden: an op given arrays of two libraries raises ``BackendError``.
"""

from __future__ import annotations

import numpy as np

from chainrule._random import random  # noqa: F401 - re-exported: B.random
from chainrule.errors import BackendError

#: Python floats, and factories without ``dtype=``, make float32 tensors (as PyTorch).
DEFAULT_FLOAT = np.dtype(np.float32)

ndarray = np.ndarray

#: The library factories make tensors in without ``backend=`` (``cr.set_default_backend``).
DEFAULT_BACKEND = "numpy"

#: The backends by the names ``Tensor.to`` and ``backend=`` take, with their modules.
MODULES = {"numpy": "numpy", "torch": "torch", "cupy": "cupy",
           "array_api_strict": "array_api_strict"}
_FLOATS = {"float16", "bfloat16", "float32", "float64"}


def name(array) -> str:
    """The backend an array belongs to: "numpy", "torch", "cupy", "array_api_strict"."""
    if isinstance(array, (np.ndarray, np.generic)):
        return "numpy"
    top = type(array).__module__.partition(".")[0]
    if top in MODULES:
        return top
    if hasattr(array, "__array_namespace__"):
        return top
    raise BackendError(
        f"{type(array).__name__} is not an array chainrule can hold. help: pass a NumPy "
        "array, a Python number or list, or an array of a library with the array API "
        "(PyTorch, CuPy, array-api-strict)")


def is_foreign(x) -> bool:
    """An array of a library other than NumPy: one of ``MODULES``' or one with the array
    API's ``__array_namespace__``. Anything else (numbers, lists, pandas objects) is data
    for ``np.asarray``, as before there were backends."""
    kind = type(x)
    if kind is np.ndarray or isinstance(x, np.generic):
        return False
    return kind.__module__.partition(".")[0] in MODULES or hasattr(kind, "__array_namespace__")


_namespaces: dict = {}


def namespace(array):
    """The array-API namespace of ``array``: ``numpy`` itself for ndarrays (NumPy 2 is one;
    the ops rely on it being the module, so fast paths can test ``xp is np``), the
    ``array_api_compat`` wrapper for PyTorch and CuPy, the library for array-api-strict."""
    if isinstance(array, np.ndarray):
        return np
    kind = type(array)
    xp = _namespaces.get(kind)
    if xp is None:
        import array_api_compat

        xp = _namespaces[kind] = array_api_compat.array_namespace(array)
    return xp


def common(arrays, op_name: str):
    """The namespace and device shared by ``arrays`` (ndarrays, foreign arrays, numbers),
    with any NumPy array moved to that library; raises ``BackendError`` naming both
    libraries (or both devices) when two differ.

    A NumPy array among another library's arrays is a constant the user gave (an index, a
    mask) and moves, as PyTorch moves a NumPy index; a *tensor* of another library never
    comes here moved: ``core._enter_backend`` refuses a mix of tensors first.
    """
    first = None
    for a in arrays:
        if is_foreign(a):
            first = a
            break
    xp = namespace(first)
    dev = device(first)
    out = []
    for a in arrays:
        if isinstance(a, np.ndarray):
            a = xp.asarray(a, device=dev)
        elif isinstance(a, np.generic):
            a = a.item()  # a Python number: weakly typed, as the array API wants scalars
        elif is_foreign(a):
            if name(a) != name(first):
                raise mixed(op_name, first, a)
            if device(a) != dev:
                raise BackendError(
                    f"{op_name}: inputs on two devices, {dev} and {device(a)}. help: move "
                    "one with .to(...) so that both live on the same device")
        out.append(a)
    return xp, dev, out


def mixed(op_name: str, a, b) -> BackendError:
    return BackendError(
        f"{op_name}: inputs from two array libraries, {name(a)} and {name(b)}. chainrule "
        "never moves data between libraries behind your back. help: move one with "
        f".to({name(a)!r}) (or .to({name(b)!r})) first, e.g. x.to({name(a)!r}) + y")


def device(array):
    """The device an array lives on (``"cpu"`` for NumPy)."""
    if isinstance(array, np.ndarray):
        return "cpu"
    import array_api_compat

    return array_api_compat.device(array)


def is_float(dtype) -> bool:
    """True for the floating dtypes (of any library), the only ones that carry gradients."""
    if isinstance(dtype, np.dtype):
        return dtype.kind == "f"
    if isinstance(dtype, type) and issubclass(dtype, np.generic):
        return np.issubdtype(dtype, np.floating)
    return dtype_name(dtype) in _FLOATS


def is_number_dtype(dtype) -> bool:
    """Booleans, integers and floats (not complex, strings or objects): what a tensor holds."""
    if isinstance(dtype, np.dtype):
        return dtype.kind in "fiub"
    return dtype_name(dtype).rstrip("0123456789") in ("float", "bfloat", "int", "uint", "bool")


def dtype_name(dtype) -> str:
    """A dtype's name without its library: "float32" for NumPy, PyTorch and the others."""
    if isinstance(dtype, np.dtype):
        return dtype.name
    if isinstance(dtype, (str, type)):  # "float32", np.float32, float
        return np.dtype(dtype).name
    return str(dtype).rpartition(".")[2]


def is_dtype_name(text: str) -> bool:
    try:
        np.dtype(text)
    except TypeError:
        return False
    return True


def same_dtype(a, b) -> bool:
    """Do dtypes ``a`` and ``b`` (of any libraries, or names) name the same type?"""
    if type(a) is type(b):
        return a == b
    return dtype_name(a) == dtype_name(b)  # no == across libraries: strict's dtypes warn


def dtype_in(xp, dtype):
    """``dtype`` (NumPy's, a name, or already ``xp``'s) as a dtype of namespace ``xp``."""
    if xp is np:
        return np.dtype(dtype)
    if isinstance(dtype, str) or isinstance(dtype, np.dtype) or (
            isinstance(dtype, type) and issubclass(dtype, np.generic)):
        return getattr(xp, np.dtype(dtype).name)
    return dtype


def numpy_dtype(dtype) -> np.dtype:
    """Any library's dtype (or a name) as NumPy's (for messages, files, comparisons)."""
    try:
        return np.dtype(dtype)
    except TypeError:
        return np.dtype(dtype_name(dtype))


def factor(mask, like):
    """A boolean mask as a factor of a product with arrays like ``like``: NumPy multiplies
    by booleans (no copy: the fast path); the array API does not, so other libraries get
    the mask in ``like``'s dtype."""
    if isinstance(mask, np.ndarray):
        return mask
    return namespace(mask).astype(mask, like.dtype)


def any_true(mask) -> bool:
    """Is any entry of a boolean array (or a Python bool) true?"""
    if isinstance(mask, (np.ndarray, np.generic, bool)):
        return bool(np.any(mask))
    return bool(namespace(mask).any(mask))


def astype(array, dtype):
    """``array`` cast to ``dtype`` (a new array), on its own library."""
    if isinstance(array, np.ndarray):
        return array.astype(dtype)
    xp = namespace(array)
    return xp.astype(array, dtype_in(xp, dtype))


def memory_id(array) -> int:
    """Identity of the memory an array views: its base's id, or its own for an owner
    (NumPy's and CuPy's ``base``, PyTorch's ``_base``); two arrays share memory this way
    exactly when one views the other or both view a third."""
    while True:
        base = getattr(array, "base", None)
        if base is None:
            base = getattr(array, "_base", None)
        if base is None or not hasattr(base, "shape"):
            return id(array)
        array = base


def full(shape, value, like):
    """An array of ``shape`` filled with ``value``, of ``like``'s dtype, library and device."""
    if isinstance(like, np.ndarray):
        return np.full(shape, value, dtype=like.dtype)
    return namespace(like).full(shape, value, dtype=like.dtype, device=device(like))


def native(xp, name: str):
    """A library's own function outside the array API (``erf``, ``einsum``), for namespace
    ``xp``; None where the library has none (array-api-strict)."""
    library = getattr(xp, "__name__", "").rpartition(".")[2]
    if library == "torch":
        import torch

        return getattr(torch.special, name, None) or getattr(torch, name, None)
    if library == "cupy":
        import cupy
        import cupyx.scipy.special

        return getattr(cupyx.scipy.special, name, None) or getattr(cupy, name, None)
    return None


def scatter_add(xp, out, index, values):
    """``out`` (1-d) with ``values`` added at ``index`` (1-d, int64), in place, repeated
    indices ACCUMULATING, by the library's own scatter-add; None where it has none (the
    array API has no scatter: ops/positions.py then sums by segments)."""
    library = getattr(xp, "__name__", "").rpartition(".")[2]
    if library == "torch":
        return out.index_add_(0, index, values)
    if library == "cupy":
        import cupyx

        cupyx.scatter_add(out, index, values)
        return out
    return None


def size(array) -> int:
    """The number of elements (PyTorch's ``.size`` is a method: not called here)."""
    if isinstance(array, np.ndarray):
        return array.size
    n = 1
    for k in array.shape:
        n *= k
    return n


def copy(array):
    """A new array with ``array``'s values, that owns its memory."""
    if isinstance(array, np.ndarray):
        return array.copy()
    return namespace(array).asarray(array, copy=True)


def alias(array):
    """A new array object viewing the same memory (``detach``: one memory, two tensors)."""
    if isinstance(array, np.ndarray):
        return array.view()
    return array[...]


# --- explicit moves between libraries ------------------------------------------------------


def to_numpy(array) -> np.ndarray:
    """``array`` as an ndarray: itself for NumPy, a copy to host memory otherwise. The one
    place data leaves a library; ``t.numpy()`` calls it, ops never do. Other data (lists,
    numbers) goes through ``np.asarray``."""
    if isinstance(array, (np.ndarray, np.generic)):
        return array
    if not is_foreign(array):
        return np.asarray(array)
    kind = name(array)
    if kind == "torch":
        return array.detach().cpu().numpy()
    if kind == "cupy":
        return array.get()
    if kind == "array_api_strict":
        import array_api_strict

        return np.asarray(array.to_device(array_api_strict.Device("CPU_DEVICE")))
    return np.from_dlpack(array)


def convert(array, backend: str, device=None):
    """``array`` moved to library ``backend`` (a name in ``MODULES``), on ``device``
    (the library's default when None). Goes through host memory unless both ends agree."""
    library = check_backend(backend)
    if library == "numpy":
        return to_numpy(array)
    if name(array) == library and device is None:
        return array
    xp = namespace_of(library)
    host = to_numpy(array)
    if device is None and library == "cupy":
        return xp.asarray(host)
    return xp.asarray(host, device=device) if device is not None else xp.asarray(host)


def constant(value, like):
    """``value`` (a number, list or NumPy array: a constant of an op) as an array of
    ``like``'s dtype, library and device."""
    if isinstance(like, np.ndarray):
        return np.asarray(value, dtype=like.dtype)
    xp = namespace(like)
    if is_foreign(value):
        return xp.astype(value, like.dtype)
    if name(like) == "cupy":
        return xp.asarray(value, dtype=like.dtype)
    return xp.asarray(value, dtype=like.dtype, device=device(like))


def asarray(x):
    """``x`` as an array where it lives: another library's array stays itself (never
    through ``np.asarray``, which would move it to the host); anything else (an ndarray,
    a number, nested lists) goes through ``np.asarray``, as before there were backends."""
    return x if is_foreign(x) else np.asarray(x)


def array_of(x):
    """The array behind tensor ``x`` (for its library, dtype, device), or ``x`` itself; a
    batched tensor under vmap answers without its values being read (Tensor._backing)."""
    probe = getattr(x, "_backing", None)
    return x if probe is None else probe()


def like(array: np.ndarray, template):
    """NumPy ``array`` moved to ``template``'s library and device (explicitly: for test
    harnesses and seeds; ops get their constants moved by ``common``)."""
    if isinstance(template, np.ndarray):
        return array
    if name(template) == "cupy":
        return namespace(template).asarray(array)
    return namespace(template).asarray(array, device=device(template))


def namespace_of(backend: str):
    """The namespace of a backend by name (importing it: ``BackendError`` if absent)."""
    library = check_backend(backend)
    if library == "numpy":
        return np
    try:
        import importlib

        module = importlib.import_module(MODULES[library])
    except ImportError:
        hint = {"cupy": "pip install cupy-cuda12x (or cupy-cuda13x for CUDA 13; "
                        "docs/backends.md)",
                "torch": "pip install torch",
                "array_api_strict": "pip install array-api-strict"}[library]
        raise BackendError(f"backend {library!r} is not installed. help: {hint}") from None
    import array_api_compat

    return array_api_compat.array_namespace(module.asarray([0.0]))


def check_backend(backend) -> str:
    """A backend's name as given to ``.to`` and ``backend=``, checked."""
    if backend in MODULES:
        return backend
    raise BackendError(f"unknown backend {backend!r}. help: one of "
                       f"{', '.join(map(repr, MODULES))}")


# --- Python data in ------------------------------------------------------------


def as_array(data, dtype=None):
    """Turn a Python scalar, nested list or array into an array of the same library.

    Python floats become float32 and ints int64; an array keeps its dtype (so float64
    stays float64 for gradient checks) and its library unless ``dtype`` is given.
    """
    if isinstance(data, np.ndarray):
        return data if dtype is None or data.dtype == dtype else data.astype(dtype)
    if isinstance(data, np.generic):
        return np.asarray(data, dtype=dtype)
    if is_foreign(data):
        if name(data) == "torch" and data.requires_grad:
            data = data.detach()  # its values only: chainrule records the graph itself
        if dtype is None:
            return data
        xp = namespace(data)
        wanted = dtype_in(xp, dtype)
        return data if data.dtype == wanted else xp.astype(data, wanted)
    arr = np.asarray(data, dtype=dtype)
    if dtype is None and arr.dtype == np.float64:
        # A Python float (or a list of them) carries no precision intent: float32.
        arr = arr.astype(DEFAULT_FLOAT)
    return arr
