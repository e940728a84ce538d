"""Neural-network building blocks: Module, Parameter, layers, losses, initialisers."""

from chainrule.nn import functional, init, parallel, utils
from chainrule.nn.conv import Conv1d, Conv2d
from chainrule.nn.layers import (
    GELU,
    Dropout,
    Embedding,
    Flatten,
    LeakyReLU,
    Linear,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from chainrule.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from chainrule.nn.module import (
    LoadResult,
    Module,
    ModuleList,
    Parameter,
    Sequential,
    StateDictError,
)
from chainrule.nn.norm import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm
from chainrule.nn.pool import (
    AdaptiveAvgPool2d,
    AdaptiveMaxPool2d,
    AvgPool1d,
    AvgPool2d,
    MaxPool1d,
    MaxPool2d,
    Upsample,
)
from chainrule.nn.sync_batchnorm import SyncBatchNorm
