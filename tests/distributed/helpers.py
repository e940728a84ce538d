"""Launch small programs on N ranks with the bundled mpiexec, as a user would.

Every launch has a timeout: a hang fails the test instead of stalling the suite. The
ranks run this checkout's source (PYTHONPATH) with one BLAS thread each (the machine has
two cores), and MPICH lets waiting ranks sleep when there are more ranks than cores.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from chainrule.distributed import launch

SRC = Path(__file__).resolve().parents[2] / "src"
SCRIPTS = Path(__file__).resolve().parent / "scripts"


def environment(n: int, **extra) -> dict:
    env = launch.environment(n)
    env.update(PYTHONPATH=f"{SRC}{os.pathsep}{env.get('PYTHONPATH', '')}".rstrip(os.pathsep),
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               **extra)
    for name in ("PMI_RANK", "PMI_SIZE", "PMI_FD", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK"):
        env.pop(name, None)  # the test process itself is no rank
    return env


def mpi(n: int, script: str, *args, timeout: float = 60, cwd=None, flags=(),
        **env) -> subprocess.CompletedProcess:
    """``mpiexec -n N python scripts/SCRIPT ARGS...``: its exit code, stdout and stderr."""
    cmd = [launch.mpiexec(), *flags, "-n", str(n), sys.executable, str(SCRIPTS / script),
           *map(str, args)]
    return subprocess.run(cmd, env=environment(n, **env), capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


def chainrule(*argv, n: int = 1, timeout: float = 120, cwd=None,
              **env) -> tuple[subprocess.CompletedProcess, float]:
    """``chainrule ARGV`` in a new process (``--nproc`` in ARGV launches the ranks); the
    result and the seconds it took."""
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "chainrule", *map(str, argv)],
                            env=environment(n, **env), capture_output=True, text=True,
                            timeout=timeout, cwd=cwd)
    return result, time.monotonic() - start


def ok(result: subprocess.CompletedProcess) -> str:
    """The stdout of a run that must have succeeded (else its output, to read)."""
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout
