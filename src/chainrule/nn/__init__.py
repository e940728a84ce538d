"""Neural-network building blocks: Module, Parameter, layers, losses, initialisers."""

from chainrule.nn import functional, init, parallel, utils
from chainrule.nn.layers import (
    GELU,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    CrossEntropyLoss,
    Dropout,
    Embedding,
    Flatten,
    LayerNorm,
    LeakyReLU,
    Linear,
    MaxPool2d,
    MSELoss,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from chainrule.nn.module import (
    LoadResult,
    Module,
    ModuleList,
    Parameter,
    Sequential,
    StateDictError,
)
from chainrule.nn.sync_batchnorm import SyncBatchNorm
