"""`chainrule predict RUN INPUT`: images, .npy and CSV in; class probabilities out."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import chainrule as cr
from chainrule.data import load_dataset
from chainrule.train.loop import evaluate
from chainrule.train.predict import load

from .helpers import TINY, command, one_line, train, write_idx_dir


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """A digits MLP trained for 3 epochs (best is chosen by validation)."""
    import io
    from contextlib import redirect_stdout

    from chainrule.cli import main

    run = tmp_path_factory.mktemp("predict") / "run"
    with redirect_stdout(io.StringIO()):
        assert main(["train", *TINY, "--epochs", "3", "--out", str(run)]) == 0
    return run


@pytest.fixture(scope="module")
def test_digits():
    x, y, _ = load_dataset("digits", "test")
    return x, y


def predicted(run, x, which="best") -> np.ndarray:
    """The classes the run's checkpoint gives ``x``, straight from the loop's evaluate."""
    model = load(run, which).model
    return evaluate(model, x, np.zeros(len(x), dtype=np.int64))[2]


def png(path, pixels: np.ndarray, scale: int = 1, mode: str = "L"):
    """``pixels`` in [0, 1] as an 8-bit PNG, each pixel a ``scale`` x ``scale`` block."""
    img = np.kron(pixels, np.ones((scale, scale)))
    arr = (img * 255).round().astype(np.uint8)
    if mode == "RGB":
        arr = np.stack([arr] * 3, axis=-1)
    Image.fromarray(arr, mode=mode if mode != "L" else None).save(path)
    return path


def ranked(line: str) -> list[tuple[str, float]]:
    """``digit.png  1 0.9972 | 8 0.0025`` as [("1", 0.9972), ("8", 0.0025)]."""
    body = line.split("  ", 1)[1]
    pairs = [part.strip().rsplit(" ", 1) for part in body.split("|")]
    return [(name, float(p)) for name, p in pairs]


def test_a_png_of_a_digit_is_predicted_as_the_array_is(digits_run, test_digits, tmp_path,
                                                       capsys):
    x, _ = test_digits
    # 32x32: the size the digits were made from; averaged down 4x4 to the 8x8 of training
    image = png(tmp_path / "digit.png", x[0].reshape(8, 8), scale=4)
    code, out, err = command(["predict", str(digits_run), str(image)], capsys)
    assert code == 0 and err == ""
    header, line = out.strip().splitlines()
    assert header.startswith(f"{digits_run}/checkpoints/best.safetensors: mlp on digits, epoch ")
    assert "chosen by validation accuracy" in header and "most likely first" in header
    assert line.startswith(f"{image}  ")
    pairs = ranked(line)
    assert len(pairs) == 10 and sorted(n for n, _ in pairs) == [str(i) for i in range(10)]
    probs = [p for _, p in pairs]
    assert probs == sorted(probs, reverse=True) and sum(probs) == pytest.approx(1, abs=1e-3)
    # 8-bit rounding moves a pixel by at most 1/510: the class is the array's
    assert pairs[0][0] == str(predicted(digits_run, x[:1])[0])


def test_rgb_and_8x8_images_work_too(digits_run, test_digits, tmp_path, capsys):
    x, _ = test_digits
    for name, scale, mode in (("rgb.png", 2, "RGB"), ("small.png", 1, "L")):
        image = png(tmp_path / name, x[1].reshape(8, 8), scale=scale, mode=mode)
        code, out, _ = command(["predict", str(digits_run), str(image), "--top", "1"], capsys)
        assert code == 0
        assert ranked(out.strip().splitlines()[1])[0][0] == str(predicted(digits_run, x[1:2])[0])


def test_npy_and_csv_give_one_row_per_sample(digits_run, test_digits, tmp_path, capsys):
    x, _ = test_digits
    expected = predicted(digits_run, x[:5])
    np.save(tmp_path / "five.npy", x[:5])
    np.save(tmp_path / "images.npy", x[:5].reshape(5, 8, 8))  # N x 8 x 8 works as well
    (tmp_path / "five.csv").write_text(
        "\n".join(",".join(repr(float(v)) for v in row) for row in x[:5]) + "\n")
    for name in ("five.npy", "images.npy", "five.csv"):
        code, out, _ = command(["predict", str(digits_run), str(tmp_path / name), "--top", "3"],
                               capsys)
        assert code == 0, name
        lines = out.strip().splitlines()[1:]
        assert [ln.split()[0:2] for ln in lines] == [["sample", str(i)] for i in range(5)]
        assert [ranked(ln)[0][0] for ln in lines] == [str(c) for c in expected], name
        assert all(len(ranked(ln)) == 3 for ln in lines)


def test_json_output(digits_run, test_digits, tmp_path, capsys):
    x, _ = test_digits
    np.save(tmp_path / "two.npy", x[:2])
    code, out, _ = command(["predict", str(digits_run), str(tmp_path / "two.npy"), "--json"],
                           capsys)
    assert code == 0
    doc = json.loads(out)
    assert doc["checkpoint"].endswith("best.safetensors") and doc["dataset"] == "digits"
    assert doc["classes"] == [str(i) for i in range(10)]
    first = doc["predictions"][0]
    assert sum(first["probabilities"]) == pytest.approx(1)
    assert first["class"] == int(np.argmax(first["probabilities"]))
    assert [r["probability"] for r in first["ranked"]] == sorted(first["probabilities"],
                                                                 reverse=True)
    assert [p["class"] for p in doc["predictions"]] == predicted(digits_run, x[:2]).tolist()


def test_best_by_default_and_last_on_request(digits_run, test_digits, tmp_path, capsys):
    x, _ = test_digits
    np.save(tmp_path / "x.npy", x[:1])
    best_epoch = json.loads((digits_run / "metrics.json").read_text())["best_epoch"]
    code, out, _ = command(["predict", str(digits_run), str(tmp_path / "x.npy"), "--json"],
                           capsys)
    assert json.loads(out)["epoch"] == best_epoch
    code, out, _ = command(["predict", str(digits_run), str(tmp_path / "x.npy"), "--json",
                            "--checkpoint", "last"], capsys)
    assert code == 0 and json.loads(out)["epoch"] == 3
    assert json.loads(out)["checkpoint"].endswith("last.safetensors")


def test_a_light_background_is_noted_and_invert_flips_it(digits_run, test_digits, tmp_path,
                                                         capsys):
    x, _ = test_digits
    image = png(tmp_path / "ink.png", 1 - x[2].reshape(8, 8), scale=4)  # dark on light
    code, out, err = command(["predict", str(digits_run), str(image), "--top", "1"], capsys)
    assert code == 0 and "has a light background" in one_line(err) and "help: --invert" in err
    code, out, err = command(["predict", str(digits_run), str(image), "--top", "1",
                              "--invert"], capsys)
    assert code == 0 and err == ""
    assert ranked(out.strip().splitlines()[1])[0][0] == str(predicted(digits_run, x[2:3])[0])


def test_values_outside_the_training_range_are_noted(digits_run, tmp_path, capsys):
    np.save(tmp_path / "counts.npy", np.full((1, 64), 16.0))  # raw counts, not / 16
    code, _, err = command(["predict", str(digits_run), str(tmp_path / "counts.npy")], capsys)
    assert code == 0 and "has values from 16 to 16, but the model trained on digits pixels " \
        "scaled to [0, 1]" in one_line(err)


def write_inputs(folder):
    np.save(folder / "shape.npy", np.zeros((3, 7)))
    np.save(folder / "nan.npy", np.full(64, np.nan))
    np.save(folder / "text.npy", np.array(["a", "b"]))
    (folder / "trunc.npy").write_bytes((folder / "shape.npy").read_bytes()[:-8])
    (folder / "junk.npy").write_bytes(b"hello")
    (folder / "short.csv").write_text("0.5,0.5\n")
    (folder / "word.csv").write_text(",".join(["0.5"] * 64) + "\n" + "x," * 63 + "x\n")
    (folder / "empty.csv").write_text("# nothing\n")
    (folder / "junk.png").write_bytes(b"\x89PNG not really")
    png(folder / "odd.png", np.zeros((30, 30)))


@pytest.mark.parametrize("name,message", [
    ("missing.png", "missing.png: no such file"),
    (".", ": is a folder, not a regular file. help: give an image, a .npy or a .csv file"),
    ("shape.npy", "shape.npy: holds an array of shape 3x7, but the model takes samples of "
                  "shape 64 or 8x8"),
    ("nan.npy", "nan.npy: holds NaN or infinite values"),
    ("text.npy", "text.npy: holds <U1 values; predict takes numbers"),
    ("trunc.npy", "trunc.npy: its header declares 168 bytes of data, but the file holds 160"),
    ("junk.npy", "junk.npy: not a .npy file NumPy wrote"),
    ("short.csv", "short.csv, line 1: 2 values, but the model takes 64 per sample"),
    ("word.csv", "word.csv, line 2: 'x' is not a number"),
    ("empty.csv", "empty.csv: no samples"),
    ("junk.png", "junk.png: not an image Pillow can read (PNG, JPEG, BMP, GIF, TIFF, WebP)"),
    ("odd.png", "odd.png: the image is 30x30 pixels, but the model takes 8x8 images (digits). "
                "help: resize it to 8x8 (or to a whole multiple, 16x16, 24x24..."),
])
def test_bad_inputs_are_one_line_exit_2(digits_run, tmp_path, name, message, capsys):
    write_inputs(tmp_path)
    code, out, err = command(["predict", str(digits_run), str(tmp_path / name)], capsys)
    assert code == 2 and out == ""
    assert one_line(err).startswith("chainrule predict: error: ") and message in err


@pytest.mark.parametrize("args,message", [
    (["RUN/nothing", "x.npy"], "RUN/nothing: no such run directory or checkpoint"),
    (["TMP", "x.npy"], "TMP: not a run directory (no checkpoints/last.safetensors)"),
    (["RUN/checkpoints/last.safetensors", "x.npy", "--checkpoint", "last"],
     "--checkpoint last: chooses a checkpoint of a run directory"),
    (["RUN", "x.npy", "--top", "0"], "--top must be at least 1, got 0"),
    (["RUN", "x.npy", "--checkpoint", "first"], "argument --checkpoint: invalid choice"),
])
def test_bad_runs_and_options_are_one_line(digits_run, tmp_path, args, message, capsys):
    np.save(tmp_path / "x.npy", np.zeros(64))
    args = [a.replace("RUN", str(digits_run)).replace("TMP", str(tmp_path))
            .replace("x.npy", str(tmp_path / "x.npy")) for a in args]
    code, _, err = command(["predict", *args], capsys)
    message = message.replace("RUN", str(digits_run)).replace("TMP", str(tmp_path))
    assert code == 2 and message in one_line(err)


def test_a_run_without_a_best_checkpoint_points_to_last(digits_run, tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(digits_run, run)
    (run / "checkpoints" / "best.safetensors").unlink()
    np.save(tmp_path / "x.npy", np.zeros(64))
    code, _, err = command(["predict", str(run), str(tmp_path / "x.npy")], capsys)
    assert code == 2 and "best.safetensors: no such checkpoint yet" in one_line(err)
    assert "help: --checkpoint last" in err
    assert command(["predict", str(run), str(tmp_path / "x.npy"), "--checkpoint", "last"],
                   capsys)[0] == 0


def test_a_2d_set_takes_csv_rows_and_refuses_images(tmp_path, capsys):
    run = tmp_path / "run"
    assert train(TINY + ["--dataset", "moons", "--samples", "100", "--epochs", "2",
                         "--out", str(run)], capsys)[0] == 0
    (tmp_path / "points.csv").write_text("x,y\n0.5,0.25\n-1,0.5\n")  # a header is skipped
    code, out, _ = command(["predict", str(run), str(tmp_path / "points.csv"), "--json"], capsys)
    assert code == 0 and len(json.loads(out)["predictions"]) == 2
    image = png(tmp_path / "a.png", np.zeros((8, 8)))
    code, _, err = command(["predict", str(run), str(image)], capsys)
    assert code == 2 and "the model takes moons samples of 2 numbers, not images" in one_line(err)
    code, _, err = command(["predict", str(run), str(tmp_path / "points.csv"), "--invert"],
                           capsys)
    assert code == 2 and "--invert flips images" in one_line(err)


def test_fashion_mnist_names_its_classes_and_takes_28x28(tmp_path, capsys):
    data = write_idx_dir(tmp_path / "idx", n=40)
    run = tmp_path / "run"
    assert train(TINY + ["--dataset", "fashion-mnist", "--data-dir", str(data), "--epochs", "1",
                         "--out", str(run)], capsys)[0] == 0
    image = png(tmp_path / "big.png", np.zeros((56, 56)), mode="RGB")  # averaged down 2x2
    code, out, _ = command(["predict", str(run), str(image), "--json"], capsys)
    assert code == 0
    doc = json.loads(out)
    assert doc["classes"][0] == "T-shirt/top" and doc["classes"][9] == "Ankle boot"
    assert doc["predictions"][0]["name"] in doc["classes"]
    state = cr.load(run / "checkpoints" / "best.safetensors")
    assert state["inputs"]["class_names"] == doc["classes"]
