"""Bad input to the tensor ops: an error that says what is wrong, with a help: line; never a
wrapped index, a truncated float, or NumPy's own message."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import ShapeError

X = cr.tensor(np.arange(12.0).reshape(3, 4))
ONES = cr.ones(3, 4, dtype=cr.float64)

CASES = [
    # (id, call, exception type, words the message must hold)
    ("gather_index_too_large", lambda: X.gather(1, [[4]] * 3), IndexError, "index 4"),
    ("gather_negative_index", lambda: cr.gather(X, 1, [[-1]] * 3), IndexError,
     "not wrapped"),
    ("gather_float_index", lambda: X.gather(1, np.zeros((3, 1))), TypeError, ".long()"),
    ("gather_bool_index", lambda: X.gather(1, np.zeros((3, 1), bool)), TypeError, "integers"),
    ("gather_dim_out_of_range", lambda: X.gather(2, [[0]]), IndexError, "dim 2"),
    ("gather_dim_not_int", lambda: X.gather(1.0, [[0]]), TypeError, "dim must be an int"),
    ("gather_index_ndim", lambda: X.gather(1, [0, 1]), ShapeError, "take_along_axis"),
    ("gather_index_larger", lambda: X.gather(1, np.zeros((4, 1), int)), ShapeError,
     "larger"),
    ("take_along_axis_out_of_range", lambda: cr.take_along_axis(X, [[-5]], axis=1),
     IndexError, "from -4 to 3"),
    ("take_along_axis_shapes", lambda: cr.take_along_axis(X, np.zeros((2, 1), int), 1),
     ShapeError, "equal the tensor's or be 1"),
    ("index_select_2d", lambda: X.index_select(0, [[0]]), ShapeError, "1-d"),
    ("index_select_out_of_range", lambda: X.index_select(0, [3]), IndexError, "size 3"),
    ("scatter_add_dtype", lambda: X.scatter_add(0, [[0]], X.astype(np.float32)), TypeError,
     "float32"),
    ("scatter_add_index_larger_than_src", lambda: X.scatter_add(0, np.zeros((3, 4), int),
                                                                X[:2]), ShapeError, "src"),
    ("scatter_add_out_of_range", lambda: X.scatter_add(1, [[4]], X), IndexError, "dim 1"),
    ("index_add_source_shape", lambda: X.index_add(0, [0, 1], ONES), ShapeError, "(2, 4)"),
    ("index_add_float_index", lambda: X.index_add(0, [0.0], ONES[:1]), TypeError,
     "integers"),
    ("masked_fill_int_mask", lambda: X.masked_fill(np.ones((3, 4), int), 0.0), TypeError,
     "boolean"),
    ("masked_fill_mask_shape", lambda: X.masked_fill(np.ones((3, 4, 1), bool), 0.0),
     ShapeError, "broadcast"),
    ("masked_fill_value_shape", lambda: X.masked_fill(X > 0, X), ShapeError, "0-d"),
    ("where_float_cond", lambda: cr.where(X, X, 0.0), TypeError, "boolean"),
    ("topk_k_too_large", lambda: X.topk(5), ValueError, "from 0 to 4"),
    ("topk_k_float", lambda: X.topk(2.0), ValueError, "k = 2.0"),
    ("sort_dim", lambda: X.sort(dim=-3), IndexError, "dim -3"),
    ("cumsum_dim", lambda: X.cumsum(dim=2), IndexError, "dim 2"),
    ("cumsum_axis_and_dim", lambda: cr.cumsum(X, 0, dim=1), TypeError, "both"),
    ("einsum_operand_count", lambda: cr.einsum("ij,jk->ik", X), ShapeError, "1 given"),
    ("einsum_axis_count", lambda: cr.einsum("ijk->i", X), ShapeError, "names 3 axes"),
    ("einsum_sizes", lambda: cr.einsum("ij,ij->i", X, X.T), ShapeError, "sizes 3 and 4"),
    ("einsum_repeated_output", lambda: cr.einsum("ij->ii", X), ShapeError, "repeats"),
    ("einsum_unknown_output", lambda: cr.einsum("ij->k", X), ShapeError, "appear in no"),
    ("einsum_diagonal_sizes", lambda: cr.einsum("ii->i", X), ShapeError, "diagonal"),
    ("einsum_bad_characters", lambda: cr.einsum("i1,1j", X, X), ShapeError, "letters"),
    ("einsum_sublist_form", lambda: cr.einsum(X, [0, 1]), TypeError, "sublist"),
    ("einsum_no_operands", lambda: cr.einsum("ij"), ValueError, "no operands"),
    ("norm_nuclear", lambda: X.norm(p="nuc"), ValueError, "not supported"),
    ("norm_p_type", lambda: X.norm(p=[2]), TypeError, "p must be"),
    ("norm_inf_empty", lambda: cr.norm(cr.zeros(0, 3), float("inf"), dim=0), ValueError,
     "empty"),
    ("outer_2d", lambda: cr.outer(X, X[0]), ShapeError, "1-d"),
    ("tril_1d", lambda: X[0].tril(), ShapeError, "at least 2"),
]


@pytest.mark.parametrize("call,kind,words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_a_clear_error_with_help(call, kind, words):
    with pytest.raises(kind) as info:
        call()
    message = str(info.value)
    assert "help:" in message, message
    assert words in message, message
