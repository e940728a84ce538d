"""Data-parallel training by hand: DistributedDataParallel, DistributedSampler and
SyncBatchNorm on the embedded 8x8 digits.

    mpiexec -n 2 python examples/ddp_digits.py     # two ranks (the mpich wheel's mpiexec)
    python examples/ddp_digits.py                  # alone: a world of 1, the same code

Every rank runs this file; rank 0 prints. `chainrule train --nproc 2` does the same for
the built-in recipes, with checkpoints (docs/distributed.md).
"""

import argparse

import chainrule as cr
import chainrule.distributed as dist
import chainrule.nn.functional as F
from chainrule import nn, optim
from chainrule.data import DataLoader, DistributedSampler, TensorDataset, load_digits

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=10)
parser.add_argument("--batch-size", type=int, default=16, help="per process")
args = parser.parse_args()

dist.init()  # under mpiexec: join the ranks; alone: a world of 1
rank, world = dist.get_rank(), dist.get_world_size()
x_train, y_train = load_digits("train")
x_test, y_test = load_digits("test")

cr.manual_seed(0)
model = nn.Sequential(nn.Linear(64, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Linear(128, 10))
model = nn.SyncBatchNorm.convert_sync_batchnorm(model)  # statistics of the global batch
ddp = nn.parallel.DistributedDataParallel(model)  # rank 0's weights on every rank
opt = optim.AdamW(ddp.parameters(), lr=3e-3)
data = TensorDataset(x_train, y_train)
sampler = DistributedSampler(data, shuffle=True, seed=0)  # this rank's share
loader = DataLoader(data, batch_size=args.batch_size, sampler=sampler)

for epoch in range(args.epochs):
    sampler.set_epoch(epoch)  # a new order each epoch, the same on every rank
    ddp.train()
    for xb, yb in loader:
        loss = F.cross_entropy(ddp(xb), yb)
        opt.zero_grad()
        loss.backward()  # gradients averaged over the global batch before it returns
        opt.step()
    ddp.eval()
    with cr.no_grad():
        correct = (model(cr.tensor(x_test)).numpy().argmax(1) == y_test).sum()
    if rank == 0:
        print(f"epoch {epoch + 1}: test accuracy {correct / len(y_test):.4f} "
              f"({world} process{'es' * (world > 1)} x batch {args.batch_size})")
weights = dist.all_gather_object(model[0].weight.numpy().tobytes())
if rank == 0:
    print("weights bitwise the same on every rank:", len(set(weights)) == 1)
