"""Starting N ranks with ``mpiexec``: the bundled one (the mpich wheel's, beside this
Python) or the first on PATH; what `chainrule train --nproc N` runs.

The launcher passes the ranks' output through and reads mpiexec's own report of a
process that died: MPICH's names the process by its pid, so rank 0 records which pid is
which rank (``$CHAINRULE_RANK_TABLE``), and the launcher's last line names the rank.

More ranks than cores (``-n 4`` on 2 cores): MPICH's waiting ranks then sleep instead of
spinning (``MPIR_CVAR_ENABLE_HEAVY_YIELD=1``), so the rank that still computes gets the
core; measured in docs/distributed.md.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from chainrule.distributed.errors import DistributedError

#: MPICH's report of a process that ended badly: "=   PID 123 RUNNING AT host", then
#: "=   EXIT CODE: 9"
_BAD_PID = re.compile(r"PID (\d+) RUNNING AT (\S+)")
_EXIT_CODE = re.compile(r"EXIT CODE: (\d+)")
_SIGNAL = re.compile(r"\(signal (\d+)\)")
#: A rank's own last line when it stops on an error (group.abort)
_TOLD = re.compile(r"rank (\d+) of \d+: ")


def mpiexec() -> str:
    """The bundled mpiexec (beside this Python: the mpich wheel's), else the one on PATH."""
    beside = Path(sys.executable).parent / "mpiexec"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("mpiexec")
    if found:
        return found
    raise DistributedError("--nproc needs mpiexec, and there is none beside this Python or on "
                           "PATH. help: pip install 'chainrule[distributed]' (mpi4py and the "
                           "mpich runtime, with its mpiexec)")


def environment(nproc: int, table: str | None = None) -> dict:
    env = dict(os.environ)
    if nproc > (os.cpu_count() or 1):
        env.setdefault("MPIR_CVAR_ENABLE_HEAVY_YIELD", "1")
    if table:
        env["CHAINRULE_RANK_TABLE"] = table
    return env


def command(nproc: int, argv: list) -> list:
    """``mpiexec -n N python -m chainrule ARGV...``: this Python, so this chainrule."""
    return [mpiexec(), "-n", str(nproc), sys.executable, "-m", "chainrule", *argv]


def run(nproc: int, argv: list, what: str = "chainrule") -> int:
    """Run ``chainrule ARGV`` on ``nproc`` ranks; its exit code. When a rank dies, a last
    line on stderr names it (rank, pid, how it ended)."""
    with tempfile.TemporaryDirectory(prefix="chainrule-ranks-") as tmp:
        table = os.path.join(tmp, "ranks.json")
        process = subprocess.Popen(command(nproc, argv), env=environment(nproc, table),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   errors="replace", bufsize=1)
        report = _Report()
        # NOTE: both streams are relayed, line by line: Hydra writes its report of a dead
        # process to stdout. (The ranks' output reaches mpiexec through pipes anyway.)
        relays = [threading.Thread(target=report.relay, args=(stream, out), daemon=True)
                  for stream, out in ((process.stdout, sys.stdout),
                                      (process.stderr, sys.stderr))]
        for relay in relays:
            relay.start()
        try:
            code = process.wait()
        except KeyboardInterrupt:
            # mpiexec has the Ctrl-C too and passes it to the ranks: wait for them to save
            code = process.wait()
        for relay in relays:
            relay.join()
        if report.pid is not None and report.told is None:
            sys.stderr.write(_failure_line(what, table, report.pid, report.exit_code,
                                           report.signal) + "\n")
        return code


class _Report:
    """What mpiexec said about a process that ended badly (the first one)."""

    def __init__(self):
        self.pid = self.exit_code = self.signal = None
        self.told = None  # the rank that said itself why it stopped (group.abort's line)

    def relay(self, stream, out) -> None:
        for line in stream:
            out.write(line)
            out.flush()
            match = _TOLD.match(line)
            if match and self.told is None:
                # NOTE: then mpiexec's report may name another rank, the one it stopped
                # first in its cleanup: the rank's own line is the one to believe
                self.told = int(match.group(1))
            for name, pattern in (("pid", _BAD_PID), ("exit_code", _EXIT_CODE),
                                  ("signal", _SIGNAL)):
                match = pattern.search(line)
                if match and getattr(self, name) is None:
                    setattr(self, name, int(match.group(1)))


def _failure_line(what: str, table: str, pid: int, exit_code: int | None,
                  signal: int | None) -> str:
    try:
        peers = json.loads(Path(table).read_text())
    except (OSError, ValueError):
        peers = []
    rank = next((r for r, (_, p) in enumerate(peers) if p == pid), None)
    who = f"rank {rank} (pid {pid})" if rank is not None else f"the process with pid {pid}"
    how = (f", killed by signal {signal}" if signal is not None else
           f", exit code {exit_code}" if exit_code is not None else "")
    return (f"{what}: {who} stopped{how}; mpiexec stopped the other ranks. Checkpoints are "
            "written whole or not at all: the run's last one resumes (--resume RUN_DIR with "
            "the same --nproc)")


def write_rank_table(peers: list) -> None:
    """Rank 0 records which pid is which rank, for the launcher's message."""
    path = os.environ.get("CHAINRULE_RANK_TABLE")
    if path:
        try:
            Path(path).write_text(json.dumps(peers))
        except OSError:
            pass  # only a message depends on it
