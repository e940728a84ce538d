"""The data layer's error: one line naming the file (or dataset) and what was expected."""

from chainrule.errors import ChainruleError


class DataError(ChainruleError, ValueError):
    """A data file that is missing, truncated, corrupt or not what it claims to be."""
