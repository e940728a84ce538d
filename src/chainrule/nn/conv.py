"""Convolution layers: Conv2d and Conv1d, with PyTorch's arguments and parameter names."""

from __future__ import annotations

from chainrule.errors import ShapeError
from chainrule.nn import functional_conv as FC
from chainrule.nn import init
from chainrule.nn._params import dtype_arg, zeros_param
from chainrule.nn.module import Module


class _ConvNd(Module):
    """What Conv1d and Conv2d share: checked arguments, the weight (out, in / groups,
    *kernel) and bias (out,), PyTorch's initialisation, and ``padding_mode``."""

    dims = 2
    layout = "(N, C, H, W)"

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1,
                 padding=0, dilation=1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__()
        dtype = dtype_arg(dtype, device)
        what, n = type(self).__name__, self.dims
        kernel = FC._ntuple(kernel_size, n, what, "kernel_size", 1)
        strides = FC._ntuple(stride, n, what, "stride", 1)
        dilations = FC._ntuple(dilation, n, what, "dilation", 1)
        if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
            raise ValueError(f"{what}: groups must be an int >= 1, got {groups!r}. help: "
                             "groups=in_channels makes a depthwise convolution")
        for name, count in (("in_channels", in_channels), ("out_channels", out_channels)):
            if count % groups:
                raise ValueError(f"{what}: {name}={count} must be divisible by groups="
                                 f"{groups}. help: each group convolves in_channels / groups "
                                 "channels into out_channels / groups")
        if padding_mode not in FC.PADDING_MODES:
            raise ValueError(f"{what}: padding_mode must be one of "
                             f"{', '.join(map(repr, FC.PADDING_MODES))}, got {padding_mode!r}."
                             " help: 'zeros' is the default")
        # checks padding (a string or ints) now, as PyTorch does, not at the first forward
        self.pads = FC.conv_padding(padding, kernel, dilations, strides, what)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = kernel_size if isinstance(kernel_size, int) else kernel
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.groups, self.padding_mode = groups, padding_mode
        self.weight = zeros_param(out_channels, in_channels // groups, *kernel, dtype=dtype)
        self.bias = zeros_param(out_channels, dtype=dtype) if bias else None
        init.default_layer_init(self.weight, self.bias)

    def forward(self, x):
        if x.ndim != self.dims + 2 or x.shape[1] != self.in_channels:
            raise ShapeError(
                f"expected {self.layout.replace('C', str(self.in_channels))}. help: check "
                "in_channels and the previous layer, or reshape the input to "
                f"{self.layout}")
        conv = FC.conv2d if self.dims == 2 else FC.conv1d
        if self.padding_mode == "zeros":
            return conv(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)
        # as PyTorch: pad in the mode first (the last axis's pair first), then no padding
        flat = tuple(p for pair in reversed(self.pads) for p in pair)
        mode = FC.pad(x, flat, mode=self.padding_mode)
        return conv(mode, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}->{self.out_channels}, kernel {self.kernel_size}, "
                f"stride {self.stride}, padding {self.padding}")
        if self.dilation not in (1, (1,) * self.dims):
            text += f", dilation {self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode!r}"
        return text + ("" if self.bias is not None else ", bias=False")


class Conv2d(_ConvNd):
    """2-D cross-correlation over NCHW inputs (see ``F.conv2d``), weight (out, in / groups,
    kh, kw). ``kernel_size``, ``stride``, ``dilation`` and ``padding`` are ints or (height,
    width) pairs; ``padding`` may also be ``"same"`` or ``"valid"``; ``padding_mode`` is
    'zeros', 'reflect', 'replicate' or 'circular'."""


class Conv1d(_ConvNd):
    """1-D cross-correlation over (N, C, L) inputs (see ``F.conv1d``), weight (out,
    in / groups, k); the arguments as Conv2d's, one number each."""

    dims = 1
    layout = "(N, C, L)"
