"""Function transforms with torch.func's names and signatures: ``jvp`` and ``jacfwd``
(forward mode: each op's ``jvp`` rule carries a tangent beside its value), ``vjp``,
``grad``, ``grad_and_value`` and ``jacrev`` (reverse mode: the backward walk),
``hessian`` (forward-over-reverse) and ``hvp``, and ``vmap`` (see its note). They nest:
``jvp(grad(f))``, ``grad(grad(f))``, ``jacfwd(jacrev(f))``, ``vmap(grad(f))``.
"""

from chainrule.func import batching  # noqa: F401 - registers vmap's dispatcher
from chainrule.func.forward import hessian, hvp, jacfwd, jvp
from chainrule.func.reverse import grad, grad_and_value, jacrev, vjp
from chainrule.func.vmap import VmapLoopWarning, vmap

__all__ = ["VmapLoopWarning", "grad", "grad_and_value", "hessian", "hvp", "jacfwd", "jacrev",
           "jvp", "vjp", "vmap"]
