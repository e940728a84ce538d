"""Peak memory of a W1 training loop (build + 50 steps), one framework per process.

Prints the peak resident memory that building the model and data and running 50 steps
add to the process once every library is imported: VmHWM after resetting it (Linux
/proc/self/clear_refs), minus VmRSS before the build. Usage:
python benchmarks/memory.py chainrule|torch|numpy|jax
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def main(framework: str) -> None:
    from chainrule._allocator import keep_freed_memory

    keep_freed_memory()  # as run.py does: the same allocator for every framework
    import torch  # noqa: F401  (every process holds the same libraries)
    import workloads

    if workloads.jax_steps.available():
        import jax  # noqa: F401

    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak (VmHWM) to the current RSS
    before = _status("VmRSS")
    step = workloads.mlp(128).build(only=framework)[framework]
    for _ in range(50):
        step()
    print(_status("VmHWM") - before)


if __name__ == "__main__":
    main(sys.argv[1])
