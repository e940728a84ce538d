"""The examples run and do what they say."""

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_xor_engine_example_learns_xor():
    out = subprocess.run([sys.executable, str(EXAMPLES / "xor_engine.py")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "predictions" in out.stdout


def test_moons_example_separates_the_moons():
    out = subprocess.run([sys.executable, str(EXAMPLES / "moons.py")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "final accuracy" in out.stdout


def test_fashion_cnn_example_runs_on_a_slice_if_the_data_is_installed():
    from chainrule.data.idx import FASHION_MNIST_DIR

    assert FASHION_MNIST_DIR.exists(), (
        "dataset-fashion-mnist is not installed. help: run `make test`, which installs it "
        "(tools/install_test_system_packages.sh)")
    out = subprocess.run([sys.executable, str(EXAMPLES / "fashion_cnn.py"), "--epochs", "1",
                          "--limit", "256"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "test accuracy" in out.stdout


def test_from_pytorch_example_gives_the_same_logits():
    out = subprocess.run([sys.executable, str(EXAMPLES / "from_pytorch.py")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "missing [] unexpected []" in out.stdout
    assert "largest logit difference" in out.stdout


def test_loss_options_example_trains_the_pixel_classifier():
    out = subprocess.run([sys.executable, str(EXAMPLES / "loss_options.py")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    accuracy = float(out.stdout.split("pixel accuracy on labelled pixels")[1].split()[0])
    assert accuracy > 0.8, out.stdout
    assert "ignored row sums to 0.0" in out.stdout


def test_conv_options_example_learns_the_digits():
    out = subprocess.run([sys.executable, str(EXAMPLES / "conv_options.py")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    accuracy = float(out.stdout.split("test accuracy ")[1].split()[0])
    assert accuracy > 0.85, out.stdout  # 0.947 here; chance is 0.1


def test_health_vanishing_example_flags_the_sigmoid_stack_and_not_the_fix():
    out = subprocess.run([sys.executable, str(EXAMPLES / "health_vanishing.py")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    sigmoid, fixed = out.stdout.split("== ReLU + batch norm")
    assert "test accuracy 0.1" in sigmoid and "(vanishing gradients); help: " in sigmoid
    assert float(fixed.split("test accuracy ")[1].split(",")[0]) > 0.85
    assert "no warnings" in fixed


def test_compile_step_example_is_bitwise_eager_and_names_its_fallback():
    out = subprocess.run([sys.executable, str(EXAMPLES / "compile_step.py")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "bitwise the same: True" in out.stdout
    assert "eager fallback: item()" in out.stdout


def test_func_transforms_example_agrees_with_itself():
    out = subprocess.run([sys.executable, str(EXAMPLES / "func_transforms.py")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    slope, dot = (float(s.split()[-1]) for s in out.stdout.split("jvp along v")[1]
                  .split("\n")[0].split("="))
    assert abs(slope - dot) < 1e-9, out.stdout
    for line in out.stdout.splitlines()[2:]:  # each check ends in its largest difference
        assert float(line.split()[-1]) < 1e-9, line


def test_per_sample_gradients_example_equals_the_loop():
    out = subprocess.run([sys.executable, str(EXAMPLES / "per_sample_gradients.py")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "per-sample gradient shapes: [(64, 128, 784), (64, 128), (64, 10, 128), (64, 10)]" \
        in out.stdout
    worst = float(out.stdout.split("largest difference from the loop:")[1].split()[0])
    assert worst < 1e-5, out.stdout
    assert "clipped mean gradient shapes: [(128, 784), (128,), (10, 128), (10,)]" in out.stdout



def test_backends_example_trains_the_same_on_numpy_and_torch():
    out = subprocess.run([sys.executable, str(EXAMPLES / "backends.py")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = dict(line.strip().split(": ", 1) for line in out.stdout.splitlines())
    assert lines["numpy"] == lines["torch"], out.stdout  # float32 on both: the same digits
