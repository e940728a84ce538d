"""`chainrule train --backend`: the model, optimizer and batches in another library, the
same run as NumPy's to float rounding; its checkpoints NumPy on disk, so the run resumes
(on that library or another) and evaluates; a library that is not installed is refused
naming its pip package."""

from __future__ import annotations

import json

import numpy as np
import pytest

import chainrule as cr
from chainrule import _backend as B
from chainrule import nn
from chainrule.train import checkpoint
from chainrule.train.loop import fit

from ..train.helpers import command, one_line, train

pytest.importorskip("torch")

#: A small digits MLP with batch norm and dropout: buffers and random draws move too.
RUN = ["--no-progress", "--hidden", "16", "--batch-norm", "--dropout", "0.2", "--threads", "1"]
#: Each library by its --backend name, array-api-strict on its non-default device (where a
#: hidden move to NumPy would raise).
PLACES = {"torch": ["--backend", "torch"],
          "array_api_strict": ["--backend", "array-api-strict", "--device", "device1"]}


def _history(run):
    return json.loads((run / "metrics.json").read_text())["history"]


def _weights(run, which="last"):
    state = checkpoint.read(run / "checkpoints" / f"{which}.safetensors")
    return {k: v.numpy() for k, v in state["model"].items()}


def _close(rows, ref, rtol, keys=("train_loss", "train_accuracy", "val_loss", "val_accuracy",
                                   "test_loss", "test_accuracy")):
    assert len(rows) == len(ref)
    for row, expected in zip(rows, ref):
        np.testing.assert_allclose([row[k] for k in keys], [expected[k] for k in keys],
                                   rtol=rtol, err_msg=str(row))


@pytest.fixture(scope="module")
def numpy_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("train-numpy") / "run"
    from chainrule.cli import main

    assert main(["train", *RUN, "--epochs", "2", "--out", str(run)]) == 0
    return run


@pytest.mark.parametrize("backend", ["torch", "array_api_strict"])
def test_a_run_on_another_library_equals_numpys(backend, numpy_run, tmp_path, capsys):
    run = tmp_path / "run"
    code, out, err = train([*RUN, "--epochs", "2", *PLACES[backend], "--out", str(run)],
                           capsys)
    assert code == 0, err
    assert f"arrays: {backend} on" in out
    assert backend != "array_api_strict" or "Device('device1')" in out
    _close(_history(run), _history(numpy_run), rtol=1e-4)
    ours, ref = _weights(run), _weights(numpy_run)
    assert ours.keys() == ref.keys()
    for k in ref:
        assert ours[k].dtype == ref[k].dtype, k  # NumPy on disk, float32 as trained
        np.testing.assert_allclose(ours[k], ref[k], rtol=1e-4, atol=1e-5, err_msg=k)


def test_a_torch_run_resumes_exactly_and_evaluates(numpy_run, tmp_path, capsys):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert train([*RUN, "--epochs", "2", "--backend", "torch", "--out", str(whole)],
                 capsys)[0] == 0
    assert train([*RUN, "--epochs", "1", "--backend", "torch", "--out", str(cut)],
                 capsys)[0] == 0
    code, out, err = train(["--resume", str(cut), "--epochs", "2", "--backend", "torch",
                            "--no-progress"], capsys)
    assert code == 0, err
    resumed, uncut = _weights(cut), _weights(whole)
    for k in uncut:
        assert np.array_equal(resumed[k], uncut[k]), k
    assert _history(cut)[-1]["test_loss"] == _history(whole)[-1]["test_loss"]

    code, out, err = command(["evaluate", str(whole)], capsys)
    assert code == 0, err
    last = _history(whole)[-1]
    assert f"test loss {last['test_loss']:.4f}   test accuracy {last['test_accuracy']:.4f}" in out

    samples = tmp_path / "x.npy"
    np.save(samples, np.random.default_rng(0).random((2, 64)).astype(np.float32))
    code, out, err = command(["predict", str(whole), str(samples), "--json"], capsys)
    assert code == 0, err
    probs = [p["probabilities"] for p in json.loads(out)["predictions"]]
    assert len(probs) == 2 and all(abs(sum(p) - 1) < 1e-5 for p in probs)


def test_health_watches_a_torch_run_as_a_numpy_one(numpy_run, tmp_path, capsys):
    runs = {}
    for backend in ("numpy", "torch"):
        runs[backend] = tmp_path / backend
        code, _, err = train([*RUN, "--epochs", "1", "--health", "--health-every", "7",
                              "--backend", backend, "--out", str(runs[backend])], capsys)
        assert code == 0, err
    ours, ref = ([json.loads(line) for line in (runs[b] / "health.jsonl").open()]
                 for b in ("torch", "numpy"))
    assert len(ours) == len(ref) > 2
    for r, e in zip(ours, ref):
        assert r["step"] == e["step"]
        np.testing.assert_allclose([p["grad_norm"] for p in r["params"]],
                                   [p["grad_norm"] for p in e["params"]], rtol=1e-4)


def test_a_torch_run_resumes_on_numpy(tmp_path, capsys):
    run = tmp_path / "run"
    assert train([*RUN, "--epochs", "1", "--backend", "torch", "--out", str(run)],
                 capsys)[0] == 0
    code, out, err = train(["--resume", str(run), "--epochs", "2", "--no-progress"], capsys)
    assert code == 0, err
    assert "arrays:" not in out
    assert [row["epoch"] for row in _history(run)] == [1, 2]


def test_a_library_that_is_not_installed_names_its_pip_package(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(B.MODULES, "cupy", "cupy_is_not_installed_here")
    code, _, err = train([*RUN, "--backend", "cupy", "--out", str(tmp_path / "r")], capsys)
    assert code == 2
    line = one_line(err)
    assert "--backend cupy" in line and "pip install cupy-cuda12x" in line
    assert "cupy-cuda13x" in line
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(("argv", "expected"), [
    (["--backend", "torch", "--device", "bogus"], "not a PyTorch device. help: e.g. cpu"),
    (["--backend", "array-api-strict", "--device", "nope"],
     "no such device. help: one of CPU_DEVICE, device1"),
])
def test_a_device_the_library_lacks_is_refused(argv, expected, tmp_path, capsys):
    code, _, err = train([*RUN, *argv, "--out", str(tmp_path / "r")], capsys)
    assert code == 2 and expected in one_line(err)
    assert not (tmp_path / "r").exists()


def test_cupy_takes_its_device_from_cuda_visible_devices(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(B.MODULES, "cupy", "numpy")  # a stand-in, so that "cupy" imports
    code, _, err = train([*RUN, "--backend", "cupy", "--device", "cuda:1",
                          "--out", str(tmp_path / "r")], capsys)
    assert code == 2 and "CUDA_VISIBLE_DEVICES" in one_line(err)


def test_device_without_backend_and_unknown_backends_are_refused(tmp_path, capsys):
    code, _, err = train([*RUN, "--device", "cuda", "--out", str(tmp_path / "r")], capsys)
    assert code == 2 and "--device cuda" in one_line(err) and "--backend" in err
    code, _, err = train([*RUN, "--backend", "jax", "--out", str(tmp_path / "r")], capsys)
    assert code == 2 and "invalid choice: 'jax'" in err
    assert not (tmp_path / "r").exists()


def test_fit_trains_a_model_moved_to_torch_as_on_numpy():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)

    def history(backend):
        cr.manual_seed(1)
        model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 2)).to(backend)
        opt = cr.optim.RMSprop(model.parameters(), lr=0.01)
        rows = fit(model, opt, (x, y), (x, y), epochs=2, batch_size=8, log=None)
        assert all(p.backend == backend for p in model.parameters())
        return rows

    _close(history("torch"), history("numpy"), rtol=1e-5,
           keys=("train_loss", "train_accuracy", "test_loss", "test_accuracy"))


def test_nproc_2_on_torch_is_the_numpy_run(tmp_path):
    from ..distributed.helpers import chainrule, ok

    quiet = ["--no-progress", "--threads", "1", "--epochs", "1", "--batch-norm"]
    for backend in ("numpy", "torch"):
        ok(chainrule("train", "--nproc", "2", "--backend", backend, *quiet, "--out", backend,
                     cwd=tmp_path)[0])
    _close(_history(tmp_path / "torch"), _history(tmp_path / "numpy"), rtol=1e-4)
    ours, ref = _weights(tmp_path / "torch"), _weights(tmp_path / "numpy")
    for k in ref:
        np.testing.assert_allclose(ours[k], ref[k], rtol=1e-4, atol=1e-5, err_msg=k)
