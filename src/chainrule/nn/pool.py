"""Pooling and resizing layers: MaxPool2d/1d, AvgPool2d/1d, AdaptiveAvgPool2d,
AdaptiveMaxPool2d and Upsample, each a thin holder of its arguments over nn.functional."""

from __future__ import annotations

from chainrule.nn import functional_pool as FP
from chainrule.nn.functional_conv import _ntuple
from chainrule.nn.module import Module


class _Pool(Module):
    """Checks the window arguments at construction, as PyTorch; stride defaults to
    kernel_size."""

    dims = 2

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False):
        super().__init__()
        what = type(self).__name__
        _ntuple(kernel_size, self.dims, what, "kernel_size", 1)
        if stride is not None:
            _ntuple(stride, self.dims, what, "stride", 1)
        _ntuple(padding, self.dims, what, "padding", 0)
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode = ceil_mode

    def extra_repr(self) -> str:
        text = f"kernel {self.kernel_size}, stride {self.stride or self.kernel_size}"
        if self.padding not in (0, (0,) * self.dims):
            text += f", padding {self.padding}"
        return text + (", ceil_mode=True" if self.ceil_mode else "")


class MaxPool2d(_Pool):
    """The maximum of each window (see ``F.max_pool2d``); stride defaults to kernel_size,
    padding (with -inf) and dilation as PyTorch's."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices: bool = False, ceil_mode: bool = False):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        _ntuple(dilation, self.dims, type(self).__name__, "dilation", 1)
        self.dilation, self.return_indices = dilation, return_indices

    def forward(self, x):
        pool = FP.max_pool2d if self.dims == 2 else FP.max_pool1d
        return pool(x, self.kernel_size, self.stride, self.padding, self.dilation,
                    self.ceil_mode, self.return_indices)


class MaxPool1d(MaxPool2d):
    """MaxPool2d over (N, C, L) inputs (see ``F.max_pool1d``)."""

    dims = 1


class AvgPool2d(_Pool):
    """The mean of each window (see ``F.avg_pool2d``); stride defaults to kernel_size;
    ``count_include_pad`` and ``divisor_override`` as PyTorch's."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override=None):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, x):
        return FP.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                             self.count_include_pad, self.divisor_override)


class AvgPool1d(_Pool):
    """AvgPool2d over (N, C, L) inputs (see ``F.avg_pool1d``)."""

    dims = 1

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.count_include_pad = count_include_pad

    def forward(self, x):
        return FP.avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                             self.count_include_pad)


class AdaptiveAvgPool2d(Module):
    """Averages over ``output_size`` bins per axis, whatever the input's size (see
    ``F.adaptive_avg_pool2d``); ``AdaptiveAvgPool2d(1)`` is global average pooling."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        return FP.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(AdaptiveAvgPool2d):
    """Maxima over ``output_size`` bins per axis (see ``F.adaptive_max_pool2d``)."""

    def __init__(self, output_size, return_indices: bool = False):
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, x):
        return FP.adaptive_max_pool2d(x, self.output_size, self.return_indices)


class Upsample(Module):
    """Resizes the spatial axes by ``scale_factor`` or to ``size`` (see
    ``F.interpolate``); the nearest-neighbour modes only."""

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest",
                 align_corners=None, recompute_scale_factor=None):
        super().__init__()
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners, self.recompute_scale_factor = align_corners, recompute_scale_factor

    def forward(self, x):
        return FP.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners,
                              self.recompute_scale_factor)

    def extra_repr(self) -> str:
        what = f"size={self.size}" if self.size is not None else \
            f"scale_factor={self.scale_factor}"
        return f"{what}, mode={self.mode!r}"
