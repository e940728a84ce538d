"""On N ranks, with tensors of another library (a host round trip to MPI): the collectives,
SyncBatchNorm against BatchNorm on the global batch in NumPy, and a DDP training step of
a converted model against one NumPy process's step on the global batch.

Usage: backends.py BACKEND (torch or array_api_strict, on its non-default device).
Rank r holds r + 2 samples (unequal shards). Prints the largest differences, then 'ok'.
"""

import sys

import numpy as np

import chainrule as cr
import chainrule.distributed as dist
import chainrule.nn.functional as F
from chainrule import nn, optim

backend = sys.argv[1]
device = None
if backend == "array_api_strict":
    import array_api_strict

    device = array_api_strict.Device("device1")
tol = 1e-5
dist.init()
r, n = dist.get_rank(), dist.get_world_size()
sizes = [k + 2 for k in range(n)]
total, lo = sum(sizes), sum(sizes[:r])
rows = slice(lo, lo + sizes[r])
rng = np.random.default_rng(1)
X = (rng.standard_normal((total, 3, 4, 4)) * 2 + 1).astype(np.float32)
C = rng.standard_normal((total, 3, 4, 4)).astype(np.float32)
share = sizes[r] / total  # DDP's weight for this rank's gradient


def there(array):
    return cr.tensor(array).to(backend, device=device)


diffs = {}
# the collectives on this library's tensors
t = there(np.full(4, r + 1.0, dtype=np.float32))
dist.all_reduce(t)
diffs["all_reduce"] = np.abs(t.numpy() - n * (n + 1) / 2).max()
gathered = [there(np.zeros(4, dtype=np.float32)) for _ in range(n)]
dist.all_gather(gathered, there(np.full(4, float(r), dtype=np.float32)))
diffs["all_gather"] = max(np.abs(g.numpy() - k).max() for k, g in enumerate(gathered))
b = there(np.full(3, float(r), dtype=np.float32))
dist.broadcast(b, src=0)
diffs["broadcast"] = np.abs(b.numpy()).max()
assert all(x.backend == backend for x in [t, b, *gathered])


def layer(kind):
    m = kind(3)
    m.weight.data[:] = [0.5, 1.0, 2.0]
    m.bias.data[:] = [0.1, -0.2, 0.3]
    return m


sync = layer(nn.SyncBatchNorm).to(backend, device=device)
x = there(X[rows])
x.requires_grad = True
y = sync(x)
((y * there(C[rows])).sum() / sizes[r]).backward()
assert y.backend == x.grad.backend == sync.weight.grad.backend == backend

ref = layer(nn.BatchNorm2d)
xg = cr.tensor(X, requires_grad=True)
yg = ref(xg)
((yg * cr.tensor(C)).sum() / total).backward()

diffs["y"] = np.abs(y.numpy() - yg.numpy()[rows]).max()
diffs["dx"] = np.abs(share * x.grad.numpy() - xg.grad.numpy()[rows]).max()
for name in ("weight", "bias"):
    g = there(getattr(sync, name).grad.numpy() * share)
    dist.all_reduce(g)
    diffs["d" + name] = np.abs(g.numpy() - getattr(ref, name).grad.numpy()).max()
for name in ("running_mean", "running_var"):
    assert getattr(sync, name).backend == backend
    diffs[name] = np.abs(getattr(sync, name).numpy() - getattr(ref, name).numpy()).max()


def model(seed):
    cr.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.Flatten(), nn.Linear(64, 3))


T = rng.integers(0, 3, total)
# each rank starts from other weights: DDP must take rank 0's
ours = nn.SyncBatchNorm.convert_sync_batchnorm(model(5 + r)).to(backend, device=device)
ddp = nn.parallel.DistributedDataParallel(ours)
opt = optim.SGD(ddp.parameters(), lr=0.5, momentum=0.9)
F.cross_entropy(ddp(there(X[rows])), T[rows]).backward()
opt.step()
single = model(5)  # rank 0's initial weights, in NumPy, on the global batch
single_opt = optim.SGD(single.parameters(), lr=0.5, momentum=0.9)
F.cross_entropy(single(cr.tensor(X)), T).backward()
single_opt.step()
assert all(v.backend == backend for v in ours.state_dict().values())
diffs["step"] = max(np.abs(a.numpy() - b.numpy()).max() for a, b in
                    zip(ours.state_dict().values(), single.state_dict().values()))
print(f"rank {r}: " + ", ".join(f"{k} {v:.2g}" for k, v in diffs.items()), flush=True)
assert max(diffs.values()) <= tol, (diffs, tol)
print(f"ok {r}", flush=True)
