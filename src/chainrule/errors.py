"""Typed errors. Each message names the op, shows shapes and values, and says what to do."""


class ChainruleError(Exception):
    """Base class of every error chainrule raises on purpose."""


class ShapeError(ChainruleError, ValueError):
    """Operands whose shapes do not fit the operation."""


class BackwardError(ChainruleError, RuntimeError):
    """A backward pass that cannot run as asked (freed graph, missing seed, no grad)."""


class GradcheckError(ChainruleError, AssertionError):
    """Analytic and finite-difference gradients disagree."""


class UsageError(ChainruleError):
    """A bad command line or input file: the command reports it in one line, exit code 2."""


class VmapError(ChainruleError, RuntimeError):
    """vmap cannot run a function as asked (a random draw under randomness='error', a
    batched tensor used outside the function that made it, a backward() inside)."""


class BackendError(ChainruleError, TypeError):
    """Arrays of two libraries (or devices) in one op, or a backend that is absent or has
    no path for an op yet: chainrule never moves data between libraries on its own."""
