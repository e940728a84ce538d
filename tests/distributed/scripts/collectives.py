"""Every collective against what it must give, on every rank; prints 'ok' per rank."""

import threading

import numpy as np

import chainrule as cr
import chainrule.distributed as dist
from chainrule.distributed import group

dist.init()
r, n = dist.get_rank(), dist.get_world_size()
assert dist.is_initialized() and n > 1

# all_reduce: sum, mean, max, in place and without a copy for a contiguous tensor
t = cr.tensor(np.arange(6, dtype=np.float32).reshape(2, 3) + r)
memory = t.data
dist.all_reduce(t)
assert t.data is memory
expected = sum(np.arange(6, dtype=np.float32).reshape(2, 3) + k for k in range(n))
np.testing.assert_array_equal(t.numpy(), expected)
t = cr.tensor(np.full(3, float(r)))
dist.all_reduce(t, op="mean")
np.testing.assert_allclose(t.numpy(), (n - 1) / 2)
t = cr.tensor(np.array([r, -r, 7], dtype=np.int64))
dist.all_reduce(t, op=dist.ReduceOp.MAX)
np.testing.assert_array_equal(t.numpy(), [n - 1, 0, 7])

# a non-contiguous tensor goes through a copy, written back
base = np.zeros((3, 4))
view = cr.tensor(base)[:, ::2]
view.data[...] = r + 1
dist.all_reduce(view)
np.testing.assert_array_equal(view.numpy(), n * (n + 1) / 2)

# broadcast from the last rank; all_gather in rank order
t = cr.tensor(np.full(4, float(r), dtype=np.float32))
dist.broadcast(t, src=n - 1)
np.testing.assert_array_equal(t.numpy(), n - 1)
out = [cr.zeros(2, 2) for _ in range(n)]
dist.all_gather(out, cr.tensor(np.full((2, 2), float(r), dtype=np.float32)))
for k, o in enumerate(out):
    np.testing.assert_array_equal(o.numpy(), k)
assert dist.all_gather_object({"rank": r}) == [{"rank": k} for k in range(n)]
assert dist.broadcast_object("from 0" if r == 0 else None) == "from 0"
dist.barrier()

# a second thread that calls a collective while this one is inside one is refused
group.acquire("test")
refused = []


def other():
    try:
        dist.all_reduce(cr.tensor([1.0]))
    except dist.DistributedError as e:
        refused.append(str(e))


thread = threading.Thread(target=other, name="other")
thread.start()
thread.join()
group.release()
assert refused and "one thread at a time" in refused[0], refused
dist.barrier()
print(f"ok {r}", flush=True)
