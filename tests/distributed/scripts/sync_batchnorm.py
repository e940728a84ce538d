"""SyncBatchNorm on N ranks against BatchNorm on the global batch in one process.

Usage: sync_batchnorm.py DTYPE. Rank r holds r + 2 samples (unequal shards). Checked on
every rank: the output rows, dL/dx rows (L: each rank's mean loss, weighted by its
share of the samples as DDP weights it), dL/dweight and dL/dbias summed so, the running
statistics; then a DDP training step of a converted model against one process's step.
Prints the largest differences, then 'ok'.
"""

import sys

import numpy as np

import chainrule as cr
import chainrule.distributed as dist
import chainrule.nn.functional as F
from chainrule import nn, optim

dtype = np.dtype(sys.argv[1])
tol = 1e-12 if dtype == np.float64 else 1e-6
dist.init()
r, n = dist.get_rank(), dist.get_world_size()
sizes = [k + 2 for k in range(n)]
total, lo = sum(sizes), sum(sizes[:r])
rows = slice(lo, lo + sizes[r])
rng = np.random.default_rng(1)
X = (rng.standard_normal((total, 3, 4, 4)) * 2 + 1).astype(dtype)
C = rng.standard_normal((total, 3, 4, 4)).astype(dtype)
share = sizes[r] / total  # DDP's weight for this rank's gradient


def layer(kind):
    m = kind(3, dtype=dtype)
    m.weight.data[:] = [0.5, 1.0, 2.0]
    m.bias.data[:] = [0.1, -0.2, 0.3]
    return m


sync = layer(nn.SyncBatchNorm)
x = cr.tensor(X[rows], requires_grad=True)
y = sync(x)
((y * cr.tensor(C[rows])).sum() / sizes[r]).backward()

ref = layer(nn.BatchNorm2d)
xg = cr.tensor(X, requires_grad=True)
yg = ref(xg)
((yg * cr.tensor(C)).sum() / total).backward()

diffs = {"y": np.abs(y.numpy() - yg.numpy()[rows]).max(),
         "dx": np.abs(share * x.grad.numpy() - xg.grad.numpy()[rows]).max()}
for name in ("weight", "bias"):
    g = cr.tensor(getattr(sync, name).grad.numpy() * share)
    dist.all_reduce(g)
    diffs["d" + name] = np.abs(g.numpy() - getattr(ref, name).grad.numpy()).max()
for name in ("running_mean", "running_var"):
    diffs[name] = np.abs(getattr(sync, name).numpy() - getattr(ref, name).numpy()).max()

# a training step: DDP over a model whose BatchNorm was converted, against one process
def model():
    cr.manual_seed(5)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, dtype=dtype), nn.BatchNorm2d(4, dtype=dtype),
                         nn.ReLU(), nn.Flatten(), nn.Linear(64, 3, dtype=dtype))


T = rng.integers(0, 3, total)
ddp = nn.parallel.DistributedDataParallel(nn.SyncBatchNorm.convert_sync_batchnorm(model()))
opt = optim.SGD(ddp.parameters(), lr=0.5)
F.cross_entropy(ddp(cr.tensor(X[rows])), T[rows]).backward()
opt.step()
single = model()
single_opt = optim.SGD(single.parameters(), lr=0.5)
F.cross_entropy(single(cr.tensor(X)), T).backward()
single_opt.step()
diffs["step"] = max(np.abs(a.numpy() - b.numpy()).max() for a, b in
                    zip(ddp.module.state_dict().values(), single.state_dict().values()))
print(f"rank {r}: " + ", ".join(f"{k} {v:.2g}" for k, v in diffs.items()), flush=True)
assert max(diffs.values()) <= tol, (diffs, tol)
print(f"ok {r}", flush=True)
