"""cr.nn.utils against torch.nn.utils."""

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn as nn

NORM_TYPES = [2.0, 1.0, float("inf")]
MAX_NORMS = [0.5, 1e6]
CLIP_VALUE = 1.0


def _pair(dtype=np.float64):
    """The same two parameters with gradients in both libraries (tools/parity_report.py)."""
    rng = np.random.default_rng(0)
    values = [rng.normal(size=(3, 4)).astype(dtype), rng.normal(size=(4,)).astype(dtype)]
    grads = [(rng.normal(size=(3, 4)) * 5).astype(dtype), (rng.normal(size=(4,)) * 5).astype(dtype)]
    ours = [nn.Parameter(v.copy()) for v in values]
    theirs = [torch.nn.Parameter(torch.tensor(v)) for v in values]
    for p, q, g in zip(ours, theirs, grads):
        p.grad = cr.tensor(g.copy())
        q.grad = torch.tensor(g.copy())
    return ours, theirs


@pytest.mark.parametrize("norm_type", NORM_TYPES)
@pytest.mark.parametrize("max_norm", MAX_NORMS)
def test_clip_grad_norm_matches_pytorch(norm_type, max_norm):
    ours, theirs = _pair()
    a = nn.utils.clip_grad_norm_(ours, max_norm, norm_type)
    b = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    np.testing.assert_allclose(a.item(), b.item(), rtol=1e-12)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12)


def test_clip_grad_value_and_vectors_match_pytorch():
    ours, theirs = _pair()
    nn.utils.clip_grad_value_(ours, CLIP_VALUE)
    torch.nn.utils.clip_grad_value_(theirs, CLIP_VALUE)
    for p, q in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())
    v = nn.utils.parameters_to_vector(ours)
    np.testing.assert_array_equal(v.numpy(), torch.nn.utils.parameters_to_vector(theirs)
                                  .detach().numpy())
    nn.utils.vector_to_parameters(v * 2, ours)
    np.testing.assert_array_equal(ours[1].numpy(), 2 * theirs[1].detach().numpy())
    with pytest.raises(ValueError, match="16 entries"):
        nn.utils.vector_to_parameters(cr.zeros(3), ours)


def test_nonfinite_norm_is_an_error_when_asked():
    p = nn.Parameter(np.ones(2))
    p.grad = cr.tensor(np.array([np.inf, 1.0]))
    with pytest.raises(RuntimeError, match="help"):
        nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)


def test_parameters_to_vector_is_differentiable_and_takes_a_generator():
    """As torch.cat of the views: the gradient of a function of the vector reaches every
    parameter; model.parameters() (a generator) works for both directions."""
    model = nn.Linear(3, 2)
    v = nn.utils.parameters_to_vector(model.parameters())
    assert v.shape == (8,) and v.dtype == np.float32
    weights = np.arange(8, dtype=np.float32)
    (v * cr.tensor(weights)).sum().backward()
    np.testing.assert_array_equal(model.weight.grad.numpy(), weights[:6].reshape(2, 3))
    np.testing.assert_array_equal(model.bias.grad.numpy(), weights[6:])
    nn.utils.vector_to_parameters(cr.tensor(-weights), model.parameters())
    np.testing.assert_array_equal(model.bias.numpy(), -weights[6:])
    assert model.weight.is_leaf and model.weight.dtype == np.float32
