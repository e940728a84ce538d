"""Data: datasets, the batching loader, the IDX reader and the built-in datasets."""

from chainrule.data.digits import load_digits
from chainrule.data.errors import DataError
from chainrule.data.idx import load_fashion_mnist, load_mnist, load_mnist_like, read_idx
from chainrule.data.loader import (
    DataLoader,
    DataLoaderError,
    Dataset,
    DatasetPickleError,
    TensorDataset,
    WorkerError,
    get_worker_info,
)
from chainrule.data.registry import NAMES, DatasetInfo, load_dataset
from chainrule.data.sampler import DistributedSampler
from chainrule.data.synthetic import make_circles, make_moons, make_spirals, make_xor
