"""Layers against torch.nn with copied weights; state dicts; init; errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F

torch = pytest.importorskip("torch")


def copy_into_torch(model, tmodel):
    mine, theirs = model.state_dict(), tmodel.state_dict()
    assert sorted(mine) == sorted(theirs)  # the same names as PyTorch
    with torch.no_grad():
        for name, p in mine.items():
            assert p.shape == tuple(theirs[name].shape), name
            theirs[name].copy_(torch.as_tensor(p.numpy()))


def compare(model, tmodel, x, target, train=True, rtol=1e-4, atol=1e-5):
    copy_into_torch(model, tmodel)
    model.train(train)
    tmodel.train(train)
    out = model(cr.tensor(x))
    tout = tmodel(torch.as_tensor(x))
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=rtol, atol=atol)
    if train:
        F.cross_entropy(out, target).backward()
        torch.nn.functional.cross_entropy(tout, torch.as_tensor(target)).backward()
        for (name, p), (_, tp) in zip(model.named_parameters(), tmodel.named_parameters()):
            np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=rtol, atol=atol,
                                       err_msg=name)


def test_mlp_with_batchnorm_and_dropout_off_matches_torch():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.BatchNorm1d(16), nn.ReLU(),
                          nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 5))
    tmodel = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 16),
                                 torch.nn.BatchNorm1d(16), torch.nn.ReLU(), torch.nn.Linear(16, 8),
                                 torch.nn.Tanh(), torch.nn.Linear(8, 5))
    x = np.random.default_rng(0).standard_normal((6, 3, 4)).astype(np.float32)
    compare(model, tmodel, x, np.array([0, 1, 2, 3, 4, 0]))
    for a, b in (("2.running_mean", "2.running_mean"), ("2.running_var", "2.running_var")):
        np.testing.assert_allclose(model.state_dict()[a].numpy(),
                                   tmodel.state_dict()[b].numpy(), rtol=1e-5, atol=1e-6)
    compare(model, tmodel, x, None, train=False)


def test_cnn_matches_torch():
    cr.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Conv2d(4, 6, 3, stride=2), nn.GELU(),
                          nn.AvgPool2d(1), nn.Flatten(), nn.Linear(6, 3))
    tmodel = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.BatchNorm2d(4),
                                 torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                 torch.nn.Conv2d(4, 6, 3, stride=2), torch.nn.GELU(),
                                 torch.nn.AvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(6, 3))
    x = np.random.default_rng(1).standard_normal((5, 2, 8, 8)).astype(np.float32)
    compare(model, tmodel, x, np.array([0, 1, 2, 1, 0]))
    compare(model, tmodel, x, None, train=False)


def test_layernorm_embedding_leaky_softmax_match_torch():
    rng = np.random.default_rng(2)
    ln, tln = nn.LayerNorm(6), torch.nn.LayerNorm(6)
    x = rng.standard_normal((3, 6)).astype(np.float32)
    np.testing.assert_allclose(ln(cr.tensor(x)).numpy(), tln(torch.as_tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-5)
    emb = nn.Embedding(10, 4)
    idx = np.array([[1, 2], [2, 9]])
    out = emb(idx)
    assert out.shape == (2, 2, 4)
    out.sum().backward()
    assert emb.weight.grad.numpy()[2].tolist() == [2.0] * 4  # repeated index accumulates
    with pytest.raises(IndexError):
        emb(np.array([10]))
    np.testing.assert_allclose(nn.LeakyReLU(0.2)(cr.tensor([-1.0, 2.0])).numpy(), [-0.2, 2.0])
    np.testing.assert_allclose(nn.Softmax()(cr.tensor([[0.0, 0.0]])).numpy(), [[0.5, 0.5]])
    assert nn.Sigmoid()(cr.tensor([0.0])).item() == 0.5


def test_default_init_ranges_and_seeding():
    cr.manual_seed(7)
    a = nn.Linear(100, 50)
    cr.manual_seed(7)
    b = nn.Linear(100, 50)
    np.testing.assert_array_equal(a.weight.numpy(), b.weight.numpy())
    w = a.weight.numpy()
    assert w.dtype == np.float32 and np.abs(w).max() <= 0.1 and np.abs(w).max() > 0.09
    assert abs(w.std() - 0.1 / np.sqrt(3)) < 0.005  # U(-1/sqrt(100), 1/sqrt(100))
    c = nn.Conv2d(3, 4, 5)
    assert np.abs(c.weight.numpy()).max() <= 1 / np.sqrt(75)
    assert nn.Linear(3, 2, bias=False).bias is None


def test_parameters_order_names_and_modes():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Sequential(nn.Dropout(0.5),
                                                                   nn.BatchNorm1d(3)))
    names = [n for n, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "2.1.weight", "2.1.bias"]
    assert len(list(model.parameters())) == 4 and len(list(model.children())) == 3
    model.eval()
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    assert "2.1.running_mean" in model.state_dict()


def test_state_dict_round_trip_is_bitwise(tmp_path):
    cr.manual_seed(3)
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    model(cr.randn(5, 4))  # changes the running stats
    cr.save(model.state_dict(), tmp_path / "m.safetensors")
    cr.manual_seed(4)
    other = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    other.load_state_dict(cr.load(tmp_path / "m.safetensors"))
    for (k, a), (_, b) in zip(model.state_dict().items(), other.state_dict().items()):
        assert a.numpy().tobytes() == b.numpy().tobytes(), k


def test_load_state_dict_errors_name_the_keys():
    model = nn.Sequential(nn.Linear(4, 3))
    with pytest.raises(KeyError, match=r"missing keys \['0.bias'\].*unexpected keys \['x'\]"):
        model.load_state_dict({"0.weight": np.zeros((3, 4)), "x": np.zeros(1)})
    model.load_state_dict({"0.weight": np.zeros((3, 4))}, strict=False)
    with pytest.raises(cr.ShapeError, match="0.weight has shape"):
        model.load_state_dict({"0.weight": np.zeros((4, 4)), "0.bias": np.zeros(3)})


def test_shape_errors_name_the_module_path_and_config():
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(64, 10))
    with pytest.raises(cr.ShapeError, match=r"model.2 \(Linear 64->10\) got input \(32, 128\): "
                                            "in_features is 64 but the input has 128"):
        model(cr.randn(32, 64))
    conv = nn.Sequential(nn.Conv2d(3, 4, 3))
    with pytest.raises(cr.ShapeError, match=r"model.0 \(Conv2d 3->4.*\(2, 1, 8, 8\)"):
        conv(cr.randn(2, 1, 8, 8))


def test_cross_entropy_rejects_bad_targets():
    logits = cr.randn(3, 4)
    with pytest.raises(IndexError, match="target class 4 is out of range for 4 classes"):
        F.cross_entropy(logits, np.array([0, 1, 4]))
    with pytest.raises(IndexError, match="-1"):
        F.cross_entropy(logits, np.array([0, -1, 2]))
    with pytest.raises(TypeError, match="integer"):
        F.cross_entropy(logits, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(logits, np.array([0, 1, 2]), reduction="avg")


def test_cross_entropy_is_stable_for_huge_logits_in_float32():
    logits = cr.tensor(np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 0.0]], dtype=np.float32),
                       requires_grad=True)
    loss = F.cross_entropy(logits, np.array([0, 2]))
    loss.backward()
    assert np.isfinite(loss.item()) and abs(loss.item() - 1e4 / 2) < 1
    assert np.isfinite(logits.grad.numpy()).all()


def test_three_reductions_are_mean_sum_and_per_sample():
    x = cr.randn(5, 3)
    t = np.array([0, 1, 2, 0, 1])
    per = F.cross_entropy(x, t, reduction="none")
    assert per.shape == (5,)
    np.testing.assert_allclose(F.cross_entropy(x, t, reduction="sum").item(), per.numpy().sum(),
                               rtol=1e-6)
    np.testing.assert_allclose(F.cross_entropy(x, t).item(), per.numpy().mean(), rtol=1e-6)


def test_dropout_scales_and_respects_eval():
    cr.manual_seed(0)
    d = nn.Dropout(0.25)
    y = d(cr.ones(10000)).numpy()
    assert set(np.unique(y).tolist()) <= {0.0, float(np.float32(1 / 0.75))}
    assert abs((y == 0).mean() - 0.25) < 0.02
    d.eval()
    assert d(cr.ones(3)).tolist() == [1.0, 1.0, 1.0]
