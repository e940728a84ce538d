"""chainrule against itself: W1-W5 at two git revisions, side by side in one run.

For a change that must not cost speed (a refactoring such as the re-floor), this answers
"is HEAD slower than BASE?" two ways:

- time: each round runs one child process per revision, in alternating order (ABBA...),
  each pinned to one core with one BLAS thread, and times ``--repeats`` steps of the
  workload after a warm-up; the answer is the median over rounds of the paired ratio
  HEAD / BASE, with its range, so that load which drifts during the run hits both sides.
- instructions (``--instructions``): each child runs under valgrind's callgrind twice,
  with ``--repeats`` and twice as many steps; the difference divided by ``--repeats`` is
  the instructions of one step, exact and repeatable whatever else the machine is doing
  (the import and the build cancel out). No PyTorch is imported in these children.

Each revision's ``src/`` is taken with ``git archive`` (``--head WORKTREE`` takes the
working tree's src/ as it is); the workloads are this checkout's benchmarks/workloads.py,
built with ``only="chainrule"``. Both children get glibc's allocator settings of
src/chainrule/_allocator.py through GLIBC_TUNABLES, so neither depends on which revision
applied them where.

    python benchmarks/revisions.py --base e41d23b --head HEAD --rounds 8
    python benchmarks/revisions.py --base e41d23b --instructions --workloads W1 W4
    python benchmarks/revisions.py --base main --compiled --instructions
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TUNABLES = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824"
WORKLOADS = ("W1", "W2", "W3", "W4", "W5")
REPEATS = {"W1": 40, "W2": 200, "W3": 10, "W4": 200, "W5": 4}  # about 0.1-0.5 s a round


def export_src(rev: str, into: Path) -> Path:
    """The revision's src/ under ``into``; the working tree's own for WORKTREE."""
    if rev == "WORKTREE":
        return ROOT / "src"
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src"],
                             check=True, capture_output=True).stdout
    target = into / rev
    target.mkdir(parents=True)
    tar_path = into / f"{rev}.tar"
    tar_path.write_bytes(archive)
    with tarfile.open(tar_path) as tar:
        tar.extractall(target, filter="data")
    return target / "src"


def child(workload: str, repeats: int, framework: str = "chainrule") -> None:
    """Build one workload's chainrule step (eager, or ``cr compiled``), warm it up, time
    ``repeats`` steps; print JSON."""
    import workloads
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    step = workloads.by_key(workload).build(only=framework)[framework]
    for _ in range(3):
        step()
    gc.collect()
    gc.freeze()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    print(json.dumps({"median": statistics.median(times)}))


def _env(src: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=f"{src}{os.pathsep}{HERE}", GLIBC_TUNABLES=TUNABLES,
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # they slow NumPy: see README
        env.pop(name, None)
    return env


def _command(workload: str, repeats: int) -> list[str]:
    command = [sys.executable, __file__, "--child", workload, "--repeats", str(repeats)]
    return command + (["--compiled"] if COMPILED[0] else [])


COMPILED = [False]  # --compiled: the children time the cr.compile step


def time_once(src: Path, workload: str, repeats: int, core: int) -> float:
    out = subprocess.run(_command(workload, repeats), env=_env(src), check=True,
                         capture_output=True, text=True,
                         preexec_fn=lambda: os.sched_setaffinity(0, {core}))
    return json.loads(out.stdout.splitlines()[-1])["median"]


def instructions_once(src: Path, workload: str, repeats: int) -> int:
    """Instructions callgrind counted for the whole child process."""
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                          *_command(workload, repeats)],
                         env=_env(src), check=True, capture_output=True, text=True)
    found = re.search(r"Collected : (\d+)", out.stderr)
    if not found:
        raise RuntimeError(f"callgrind printed no total:\n{out.stderr[-2000:]}")
    return int(found.group(1))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=False, help="git revision to compare against")
    parser.add_argument("--head", default="WORKTREE", help="git revision, or WORKTREE")
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=WORKLOADS)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--repeats", type=int, help="steps per round (default: per workload)")
    parser.add_argument("--instructions", action="store_true",
                        help="count instructions per step with callgrind instead of timing")
    parser.add_argument("--compiled", action="store_true",
                        help="time the workloads' cr.compile step instead of the eager one")
    parser.add_argument("--child", choices=WORKLOADS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    COMPILED[0] = args.compiled
    if args.child:
        child(args.child, args.repeats, "cr compiled" if args.compiled else "chainrule")
        return 0
    if not args.base:
        parser.error("--base REV is required")

    core = min(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as tmp:
        srcs = {rev: export_src(rev, Path(tmp)) for rev in (args.base, args.head)}
        print(f"chainrule {args.head} against {args.base}{' (compiled)' if args.compiled else ''}"
              f", one thread, pinned to core {core}")
        for key in args.workloads:
            repeats = args.repeats or REPEATS[key]
            if args.instructions:
                per_step = {}
                for rev, src in srcs.items():
                    few = instructions_once(src, key, repeats)
                    more = instructions_once(src, key, 2 * repeats)
                    per_step[rev] = (more - few) / repeats
                ratio = per_step[args.head] / per_step[args.base]
                print(f"{key}: {per_step[args.base]:,.0f} -> {per_step[args.head]:,.0f} "
                      f"instructions per step, head/base {ratio:.3f}", flush=True)
                continue
            ratios, medians = [], {rev: [] for rev in srcs}
            for r in range(args.rounds):
                order = (args.base, args.head) if r % 2 == 0 else (args.head, args.base)
                got = {rev: time_once(srcs[rev], key, repeats, core) for rev in order}
                for rev, t in got.items():
                    medians[rev].append(t)
                ratios.append(got[args.head] / got[args.base])
            base_ms = statistics.median(medians[args.base]) * 1e3
            head_ms = statistics.median(medians[args.head]) * 1e3
            print(f"{key}: {base_ms:.3f} -> {head_ms:.3f} ms per step, head/base "
                  f"{statistics.median(ratios):.3f} (rounds {min(ratios):.3f}-"
                  f"{max(ratios):.3f})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
