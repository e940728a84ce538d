"""The default recipes' final test accuracy over seeds and BLAS thread counts.

Runs `chainrule train` (the real command, one process per run) for every recipe, seed and
thread count asked for, one run at a time (so a 2-thread run has both cores), and prints
each run and the spread (min / median / max) per recipe and per thread count, against the
bar each recipe must stay above. Usage:

    python benchmarks/recipe_spread.py                      # digits, seeds 0-4, 1 and 2 threads
    python benchmarks/recipe_spread.py --recipes digits-mlp,fashion-mnist-mlp
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BARS = {"digits-mlp": 0.975, "fashion-mnist-mlp": 0.900, "fashion-mnist-cnn": 0.925}


def run(recipe: str, seed: int, threads: int, workdir: Path) -> dict:
    dataset, model = recipe.rsplit("-", 1)
    out = workdir / f"{recipe}-s{seed}-t{threads}"
    cmd = [sys.executable, "-m", "chainrule", "train", "--dataset", dataset, "--model", model,
           "--seed", str(seed), "--threads", str(threads), "--out", str(out), "--no-progress"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
    metrics = json.loads((out / "metrics.json").read_text())
    return {"recipe": recipe, "seed": seed, "threads": threads, "seconds": seconds,
            "test_accuracy": metrics["test_accuracy"],
            "best_test_accuracy": metrics.get("best_test_accuracy")}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipes", default="digits-mlp",
                   help=f"comma-separated, from {', '.join(BARS)}")
    p.add_argument("--seeds", default="0,1,2,3,4")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--json", type=Path, help="also write every run here")
    p.add_argument("--jobs", type=int, default=1,
                   help="1-thread runs at once (their accuracy does not depend on it; their "
                   "time does); runs with more threads always go one at a time")
    args = p.parse_args(argv)
    recipes = args.recipes.split(",")
    unknown = [r for r in recipes if r not in BARS]
    if unknown:
        p.error(f"unknown recipe {unknown[0]!r}; choose from {', '.join(BARS)}")
    seeds = [int(s) for s in args.seeds.split(",")]
    threads = [int(t) for t in args.threads.split(",")]
    runs = []
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(args.jobs) as pool:
        for recipe in recipes:
            for t in threads:
                jobs = [pool.submit(run, recipe, seed, t, Path(tmp)) if t == 1 else None
                        for seed in seeds]
                for seed, job in zip(seeds, jobs):
                    r = job.result() if job is not None else run(recipe, seed, t, Path(tmp))
                    runs.append(r)
                    print(f"{recipe:20s} seed {seed} threads {t}: test accuracy "
                          f"{r['test_accuracy']:.4f} ({r['seconds']:.0f} s)", flush=True)
    print()
    print("| recipe | threads | runs | min | median | max | bar | all above |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    ok = True
    for recipe in recipes:
        for t in threads + ["all"]:
            accs = [r["test_accuracy"] for r in runs
                    if r["recipe"] == recipe and (t == "all" or r["threads"] == t)]
            above = min(accs) >= BARS[recipe]
            ok &= above
            print(f"| {recipe} | {t} | {len(accs)} | {min(accs):.4f} | "
                  f"{statistics.median(accs):.4f} | {max(accs):.4f} | {BARS[recipe]} | "
                  f"{'yes' if above else 'NO'} |")
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
