"""N ranks with batch b against one process with batch N*b, step by step.

Usage: ddp_equality.py DTYPE STEPS BATCH. Every rank also computes the single-process
run itself (it is small) and prints the largest difference of any parameter after all
steps, then 'ok'. After every step the ranks' parameters must be bitwise equal.
The steps: STEPS batches from a DistributedSampler; one step where rank r has r + 1
samples (unequal shards); two micro-batches accumulated under no_sync().
"""

import sys

import numpy as np

import chainrule as cr
import chainrule.distributed as dist
import chainrule.nn.functional as F
from chainrule import nn, optim
from chainrule.data import DataLoader, DistributedSampler, TensorDataset

dtype, steps, b = np.dtype(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
dist.init()
r, n = dist.get_rank(), dist.get_world_size()
rng = np.random.default_rng(7)
X = rng.standard_normal((n * b * steps, 12)).astype(dtype)
Y = rng.integers(0, 4, len(X))
extra_x = rng.standard_normal((n * (n + 1) // 2 + 4 * n * b, 12)).astype(dtype)
extra_y = rng.integers(0, 4, len(extra_x))


def build(seed):
    cr.manual_seed(seed)
    model = nn.Sequential(nn.Linear(12, 16, dtype=dtype), nn.Tanh(), nn.Linear(16, 16, dtype=dtype),
                          nn.ReLU(), nn.Linear(16, 4, dtype=dtype))
    return model, optim.AdamW(model.parameters(), lr=1e-2)


def params(model):
    return np.concatenate([p.numpy().ravel() for p in model.parameters()])


def step(model, opt, x, y):
    loss = F.cross_entropy(model(cr.tensor(x)), y)
    opt.zero_grad()
    loss.backward()
    opt.step()


def same_everywhere(model, when):
    everyone = dist.all_gather_object(params(model).tobytes())
    assert all(e == everyone[0] for e in everyone), f"ranks differ after {when}"


model, opt = build(100 + r)  # a different start on every rank: DDP takes rank 0's
ddp = nn.parallel.DistributedDataParallel(model, bucket_cap_mb=0.001)  # several buckets
same_everywhere(model, "construction")
data = TensorDataset(X, Y)
sampler = DistributedSampler(data, seed=3)
sampler.set_epoch(1)
assert len(DataLoader(data, batch_size=b, sampler=sampler)) == steps
mine = sampler.indices()  # the loader's batches, before it casts float64 to float32
for i in range(steps):
    idx = mine[i * b:(i + 1) * b]
    step(ddp, opt, X[idx], Y[idx])
    same_everywhere(model, f"step {i + 1}")
lo = r * (r + 1) // 2  # unequal shards: rank r has r + 1 samples
step(ddp, opt, extra_x[lo:lo + r + 1], extra_y[lo:lo + r + 1])
same_everywhere(model, "the unequal step")
start = n * (n + 1) // 2 + 2 * r * b  # no_sync: two micro-batches of b on each rank
opt.zero_grad()
with ddp.no_sync():
    (F.cross_entropy(ddp(cr.tensor(extra_x[start:start + b])), extra_y[start:start + b]) / 2
     ).backward()
(F.cross_entropy(ddp(cr.tensor(extra_x[start + b:start + 2 * b])),
                 extra_y[start + b:start + 2 * b]) / 2).backward()
opt.step()
same_everywhere(model, "the accumulated step")

# one process, global batches: the same permutation, n * b at a time
single, single_opt = build(100)
order = np.random.default_rng([3, 1]).permutation(len(X))
for i in range(steps):
    idx = order[i * n * b:(i + 1) * n * b]
    step(single, single_opt, X[idx], Y[idx])
total = n * (n + 1) // 2
step(single, single_opt, extra_x[:total], extra_y[:total])
tail = slice(total, total + 2 * n * b)
step(single, single_opt, extra_x[tail], extra_y[tail])
diff = np.abs(params(single) - params(model)).max()
print(f"rank {r} max|single - ddp| = {diff:.3g}", flush=True)
tol = 1e-12 if dtype == np.float64 else 1e-6
assert diff <= tol, (diff, tol)
print(f"ok {r}", flush=True)
