"""The benchmark compares like with like: every framework's step computes the same update.

No timing here (timings live in benchmarks/): each workload is built as `make bench`
builds it, every framework runs two steps from the same weights and data, and their
parameters (W5: the gradient) must agree with the hand-written NumPy step's.
"""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "benchmarks"))
workloads = pytest.importorskip("workloads")
import revisions  # noqa: E402  (benchmarks/ is on the path from here on)

pytest.importorskip("torch")


@pytest.mark.parametrize("make", [
    lambda: workloads.mlp(128), lambda: workloads.mlp(16), lambda: workloads.cnn(64),
    workloads.moons_tanh, lambda: workloads.deep_chain(depth=40),
], ids=["W1", "W2", "W3", "W4", "W5"])
def test_every_framework_computes_the_same_step(make):
    steps = make().build()
    assert {"chainrule", "torch", "numpy"} <= set(steps)
    for step in steps.values():
        step()
        step()
    reference = steps["numpy"].params()
    for name, step in steps.items():
        got = step.params()
        assert len(got) == len(reference), name
        for a, b in zip(got, reference):
            np.testing.assert_allclose(np.asarray(a), b, rtol=2e-5, atol=2e-6, err_msg=name)


@pytest.mark.parametrize("make", [
    lambda: workloads.mlp(16), lambda: workloads.cnn(8), workloads.moons_tanh,
    lambda: workloads.deep_chain(depth=40), lambda: workloads.mlp(16, train=False),
], ids=["W2", "W3", "W4", "W5", "W1-forward"])
def test_the_compiled_step_replays_and_is_bitwise_the_eager_one(make):
    steps = make().build()
    eager, compiled = steps["chainrule"], steps["cr compiled"]
    for _ in range(3):
        a, b = eager(), compiled()
    assert compiled.compiled.stats == {"records": 1, "replays": 2, "eager": 0}
    if hasattr(eager, "params"):
        for u, v in zip(eager.params(), compiled.params()):
            assert np.array_equal(u, v)
    else:  # forward only: the outputs
        assert np.array_equal(a.data, b.data)


def test_a_step_that_diverged_would_be_caught():
    steps = workloads.moons_tanh().build()
    steps["chainrule"]()
    steps["numpy"]()
    steps["numpy"]()  # one step ahead
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(steps["chainrule"].params()[0], steps["numpy"].params()[0],
                                   rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("key", ["W1", "W2", "W3", "W4", "W5"])
def test_a_workload_builds_one_framework_alone(key):
    steps = workloads.by_key(key).build(only="chainrule")
    assert set(steps) == {"chainrule"}
    steps["chainrule"]()


def test_revisions_compares_two_revisions_in_one_run(capsys):
    assert revisions.main(["--base", "HEAD", "--workloads", "W4", "--rounds", "2",
                           "--repeats", "3"]) == 0
    line = capsys.readouterr().out.splitlines()[-1]
    assert line.startswith("W4: ") and "head/base" in line


def test_the_func_benchmark_compares_equal_results():
    """benchmarks/func.py: vmap(grad), the loop of backward passes and torch.func give the
    same per-sample gradients; each W1 pair runs (no timing here)."""
    import func as bench  # benchmarks/func.py

    batched, loop, theirs = bench.per_sample_case(batch=8)
    ours, looped = batched(), loop()
    for k, g in enumerate(ours):
        np.testing.assert_allclose(g.numpy(), np.stack([r[k] for r in looped]), rtol=1e-5,
                                   atol=1e-6)
        if theirs is not None:
            np.testing.assert_allclose(g.numpy(), theirs()[k].numpy(), rtol=1e-4, atol=1e-6)
    for fn, base in bench.w1_cases().values():
        fn(), base()


def test_the_misses_profiles_run_and_name_their_parts(capsys):
    """benchmarks/misses.py: each profile runs on the real steps and prints its parts (one
    round, a short chain, the collector left unfrozen; no timing is checked here)."""
    import misses  # benchmarks/misses.py

    misses.gemm_floor("W2", rounds=1)
    misses.replay_anatomy("W4", rounds=1)
    misses.eager_anatomy(rounds=1, depth=20, freeze=False)
    out = capsys.readouterr().out
    for part in ("numpy GEMMs alone", "numpy SGD update alone", "its guard (holds)",
                 "its replay (run)", "collector on", "collector off", "numpy by hand",
                 "60 ops"):
        assert part in out, part
