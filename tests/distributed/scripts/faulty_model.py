"""A small digits model that fails on purpose, for the fault tests (``--model``).

With FAULT=kill or FAULT=raise in the environment, rank FAULT_RANK kills itself
(SIGKILL, as the OOM killer or a lost host would end it) or raises, in its training
forward number FAULT_AT. Without FAULT it is an ordinary model (the resume runs so).
"""

import os
import signal

from chainrule import nn


class Net(nn.Module):
    def __init__(self, input_shape, num_classes):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(),
                                  nn.Linear(32, num_classes))
        self.calls = 0

    def forward(self, x):
        fault = os.environ.get("FAULT")
        if fault and self.training:
            from chainrule.distributed import get_rank

            self.calls += 1
            if get_rank() == int(os.environ["FAULT_RANK"]) and \
                    self.calls == int(os.environ["FAULT_AT"]):
                if fault == "kill":
                    os.kill(os.getpid(), signal.SIGKILL)
                raise RuntimeError("injected fault")
        return self.body(x)
