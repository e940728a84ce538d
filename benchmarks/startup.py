"""Start-up and the digits run, whole processes timed from outside, at two revisions.

Issue 13's targets: ``python -c "import chainrule"`` under 0.3 s, and ``chainrule train``
(the digits, its defaults) spending at least 80 % of its wall time training. Each round
runs both commands once per revision, in alternating order (so that load which drifts
hits both sides), each revision's src/ compiled to bytecode first (as ``make train``
does). Per command and revision: the median wall and CPU seconds (user + system, the
process and its children, from ``os.wait4``); for the run also the epochs' seconds (the
sum of metrics.json's ``seconds``: steps and evaluation) and their share of the wall
time, the same measure for both revisions. The load average is printed before and after:
a number taken at a load above the cores is not a quiet machine's.

    python benchmarks/startup.py --base HEAD~6 --rounds 5
    python benchmarks/startup.py --rounds 5            # the working tree alone
    python benchmarks/startup.py --base HEAD~6 --busy  # beside a process spinning on a core
    python benchmarks/startup.py --draw helper         # the figure's helper, whatever the load
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from busy import spinning  # noqa: E402
from revisions import export_src  # noqa: E402


def timed(command: list, env: dict) -> tuple[float, float]:
    """(wall, CPU) seconds of ``command``, its output discarded; fails if it fails."""
    with tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)  # this process and its children
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode:
            errors.seek(0)
            raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}):\n"
                               f"{errors.read().decode(errors='replace')}")
    return wall, usage.ru_utime + usage.ru_stime


#: ``--draw``: who draws curves.png in a revision that has train/curves.py.
DRAW = {"auto": "", "here": "curves.core_idle = lambda: False\n",
        "helper": "curves.core_idle = lambda: True\n"}


def round_of(src: Path, out: Path, draw: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(src))
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # they slow NumPy: see README
        env.pop(name, None)
    imported = timed([sys.executable, "-c", "import chainrule"], env)
    argv = ["train", "--out", str(out), "--overwrite", "--no-progress"]
    if draw != "auto" and (src / "chainrule" / "train" / "curves.py").exists():
        code = ("import sys\nfrom chainrule.train import curves\n" + DRAW[draw]
                + f"from chainrule.cli import main\nsys.exit(main({argv!r}))")
        run = timed([sys.executable, "-c", code], env)
    else:
        run = timed([sys.executable, "-m", "chainrule", *argv], env)
    history = json.loads((out / "metrics.json").read_text())["history"]
    return {"import": imported, "train": run, "epochs": sum(r["seconds"] for r in history)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", help="git revision to compare against")
    parser.add_argument("--head", default="WORKTREE", help="git revision, or WORKTREE")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--busy", action="store_true",
                        help="a second process spins on one core for the whole run")
    parser.add_argument("--draw", choices=DRAW, default="auto",
                        help="curves.png drawn by the run itself or its helper process, "
                             "whatever the idle-core rule says (revisions with curves.py)")
    args = parser.parse_args(argv)
    revs = [args.head] + ([args.base] if args.base else [])
    with tempfile.TemporaryDirectory() as tmp:
        srcs = {rev: export_src(rev, Path(tmp) / "src") for rev in revs}
        for src in srcs.values():
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(src)], check=True)
        results = {rev: [] for rev in revs}
        print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
              + (" (one core spinning)" if args.busy else ""))
        with spinning(args.busy):
            for i in range(args.rounds):
                for rev in revs if i % 2 == 0 else revs[::-1]:
                    results[rev].append(round_of(srcs[rev], Path(tmp) / "run", args.draw))
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(f"medians of {args.rounds} rounds; seconds")
    print("| revision | import wall | import CPU | train wall | train CPU | epochs | "
          "epochs / wall |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for rev, rounds in results.items():
        wall = {key: statistics.median(r[key][0] for r in rounds) for key in ("import", "train")}
        cpu = {key: statistics.median(r[key][1] for r in rounds) for key in ("import", "train")}
        epochs = statistics.median(r["epochs"] for r in rounds)
        share = statistics.median(r["epochs"] / r["train"][0] for r in rounds)
        print(f"| {rev} | {wall['import']:.3f} | {cpu['import']:.3f} | {wall['train']:.2f} | "
              f"{cpu['train']:.2f} | {epochs:.2f} | {100 * share:.0f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
