"""Use cases: validate, take the lock, plan, run the plan, commit the store.

Every change is write-ahead: the record is saved as `creating`/`removing` before the first kernel
command, and the store ends as if nothing had happened when a step fails. One module per family
of commands; Service is all of them over one store and one runner.
"""

from mydocker_net import targets  # noqa: F401 - tests patch targets through here
from mydocker_net.service.applying import ApplyOps
from mydocker_net.service.checking import DoctorOps, DoctorReport
from mydocker_net.service.endpoints import ConnectRequest, EndpointOps
from mydocker_net.service.networks import CreateRequest, NetworkOps

__all__ = ["Service", "CreateRequest", "ConnectRequest", "DoctorReport"]


class Service(NetworkOps, EndpointOps, ApplyOps, DoctorOps):
    """create, remove, connect, disconnect, apply, doctor."""
