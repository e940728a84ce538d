"""The BLAS threads rule (train/threads.py): by the work, not by BLAS's default."""

import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info

import chainrule as cr
from chainrule import nn, optim
from chainrule.train import fit, threads
from chainrule.train.models import cnn, mlp


def test_largest_product_of_an_mlp_and_a_cnn():
    macs, shape = threads.largest_product(mlp((64,), (256, 128), 10),
                                          np.zeros((32, 64), np.float32))
    assert (macs, shape) == (32 * 256 * 128, "32x256 by 256x128")
    net = cnn((1, 8, 8), (4, 6), 10, batch_norm=True)
    macs, shape = threads.largest_product(net, np.zeros((5, 1, 8, 8), np.float32))
    # the first conv: 5*8*8 rows x 9 x 4 = 11,520; the second: 5*4*4 x 36 x 6 = 17,280
    assert (macs, shape) == (5 * 4 * 4 * 36 * 6, "80x36 by 36x6")


def test_small_work_runs_on_one_thread(monkeypatch):
    monkeypatch.setattr(threads, "others_running", lambda: 0)
    choice = threads.choose(mlp((64,), (256, 128), 10), np.zeros((32, 64), np.float32),
                            cores=2)
    assert choice.threads == 1 and "below 8 M" in choice.why


@pytest.mark.parametrize("busy, expected", [(0, 2), (1, 1), (5, 1)])
def test_large_products_use_the_free_cores(monkeypatch, busy, expected):
    monkeypatch.setattr(threads, "others_running", lambda: busy)
    net = mlp((784,), (256,), 10)  # 128x784 by 784x256: 25.7 M
    choice = threads.choose(net, np.zeros((128, 784), np.float32), cores=2)
    assert choice.threads == expected, choice.why
    assert "25.7 M" in choice.why


def test_a_thread_count_given_is_used_as_given(monkeypatch):
    monkeypatch.setattr(threads, "largest_product", lambda *a: pytest.fail("measured"))
    assert threads.choose(mlp((4,), (4,), 2), np.zeros((2, 4)), requested=3).threads == 3


def test_a_model_without_linear_or_conv_runs_on_one_thread():
    class Scale(nn.Module):
        def forward(self, x):
            return x * 2.0

    assert threads.largest_product(Scale(), np.zeros((3, 4))) == (0, "none")
    assert threads.choose(Scale(), np.zeros((3, 4)), cores=2).threads == 1


def test_the_probe_changes_nothing_training_could_see():
    cr.manual_seed(0)
    net = mlp((16,), (32,), 3, batch_norm=True, dropout=0.5)
    before = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    threads.largest_product(net, np.ones((8, 16), np.float32))
    assert net.training
    after_draw = cr.rand(4).numpy()
    cr.manual_seed(0)
    mlp((16,), (32,), 3, batch_norm=True, dropout=0.5)
    assert np.array_equal(after_draw, cr.rand(4).numpy())  # no random numbers drawn
    for k, v in net.state_dict().items():  # batch norm's statistics untouched
        assert np.array_equal(v.numpy(), before[k]), k
    net.eval()
    threads.largest_product(net, np.ones((8, 16), np.float32))
    assert not net.training
    assert not any(m._forward_hooks for m in net.modules())  # hooks removed


def test_others_running_counts_other_processes():
    n = threads.others_running()
    assert isinstance(n, int) and n >= 0


def _blas_threads() -> set:
    return {info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"}


@pytest.mark.parametrize("given, expected", [(0, {1}), (2, {2})])
def test_fit_follows_the_rule(given, expected):
    cr.manual_seed(0)
    net = mlp((4,), (8,), 2)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 4)).astype(np.float32), rng.integers(0, 2, 16)
    seen = []
    fit(net, optim.SGD(net.parameters(), lr=0.1), (x, y), (x, y), epochs=1, batch_size=8,
        log=lambda line: seen.append(_blas_threads()), threads=given)
    assert seen == [expected]


def test_two_threads_choose_at_once():
    nets = [mlp((64,), (256, 128), 10) for _ in range(2)]
    out, errors = [None, None], []

    def probe(i):
        try:
            for _ in range(20):
                out[i] = threads.largest_product(nets[i], np.zeros((32, 64), np.float32))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    workers = [threading.Thread(target=probe, args=(i,)) for i in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors and out == [(32 * 256 * 128, "32x256 by 256x128")] * 2


@pytest.mark.parametrize("bad", [-1, 1.5])
def test_a_bad_thread_count_is_refused_with_help(bad):
    from chainrule.train.errors import RecipeError

    with pytest.raises(RecipeError, match="threads must be a whole number >= 0.*help: "):
        threads.choose(mlp((4,), (4,), 2), np.zeros((2, 4)), requested=bad)
