"""Data-parallel training over MPI: the process group and its collectives.

``torch.distributed``'s names::

    import chainrule.distributed as dist
    dist.init()                       # under mpiexec: join the ranks; alone: a world of 1
    dist.get_rank(), dist.get_world_size()
    dist.all_reduce(t, op="sum")      # in place; "mean", "max"
    dist.broadcast(t, src=0); dist.all_gather(tensors, t); dist.barrier()

``chainrule.nn.parallel.DistributedDataParallel``, ``chainrule.data.DistributedSampler``
and ``nn.SyncBatchNorm`` build on these; docs/distributed.md says how to launch.
"""

from chainrule.distributed.collectives import (
    ReduceOp,
    all_gather,
    all_gather_object,
    all_reduce,
    barrier,
    broadcast,
    broadcast_object,
)
from chainrule.distributed.errors import DistributedError, MismatchError, RankFailedError
from chainrule.distributed.group import (
    abort,
    destroy_process_group,
    get_rank,
    get_world_size,
    init,
    init_process_group,
    is_available,
    is_initialized,
    launched_by_mpi,
)
