"""``cr.compile``: record a training step once, replay it (see docs/compile.md)."""

from chainrule.compile.api import Compiled, CompileWarning, compile  # noqa: A004

__all__ = ["compile", "Compiled", "CompileWarning"]
