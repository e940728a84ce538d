"""The graph layer, below the ops: what a recorded op is and when ops record.

- ``node``: Node (one recorded op application), saves that say where they come from
  (INPUT(i), OUTPUT), version counters and the write clock;
- ``grad_mode``: whether ops record (per thread);
- ``anomaly``: NaN/Inf detection that names the op (per thread).

The ops (``chainrule.ops``) build on it; the backward walk (``chainrule.autograd``) sits
above the ops.
"""
