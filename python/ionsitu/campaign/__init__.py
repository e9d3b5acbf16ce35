"""Temperature x replica campaigns (``ionsitu campaign``); the full description is in
:mod:`ionsitu.campaign.runner`. One module per concern:

- :mod:`.schema`: the keys of the campaign file, fix IDs, error types;
- :mod:`.config`: reading and validating a campaign file (:func:`load_config`);
- :mod:`.analyses`: the in-situ analyses (extension point, :data:`ANALYSES`);
- :mod:`.inputs`: the LAMMPS input of a member and the trial build;
- :mod:`.members`: member folders, ``status.json``, the lock, liveness, failure classes;
- :mod:`.scheduler`: MPI: errors of rank 0 on every rank, stop signals, the coordinator;
- :mod:`.gpu`: GPUs and threads per rank;
- :mod:`.runner`: :class:`Campaign`, which runs them.
"""

from .analyses import ANALYSES, PLANNED, Analysis  # noqa: F401
from .config import load_config, schema_text  # noqa: F401
from .members import (HOST, LOCK_FILE, CampaignLock, CampaignLocked,  # noqa: F401
                      Member, _holder_text, _pid_alive, classify_failure, liveness, read_status)
from .runner import Campaign  # noqa: F401
from .scheduler import StopRequest, on_all, on_root, signal_number, stop_requested  # noqa: F401
from .schema import SCHEMA, STATUS_SCHEMA, STATUS_VERSION, CampaignError, ConfigError, Key  # noqa: F401

__all__ = ["Campaign", "ConfigError", "CampaignError", "Member", "SCHEMA", "load_config", "schema_text",
           "STATUS_SCHEMA", "STATUS_VERSION", "ANALYSES", "Analysis", "CampaignLock", "CampaignLocked",
           "StopRequest", "classify_failure", "liveness", "read_status", "on_all", "on_root", "signal_number",
           "stop_requested"]
