"""GPUs and threads of a campaign's ranks (set before LAMMPS or TensorFlow start)."""

from __future__ import annotations

import os



# Thread settings the user gave, read when this module is imported: importing deepmd-kit
# (e.g. in the trial build before the runs) sets some of them itself, on some ranks only.
_THREAD_VARS = ("OMP_NUM_THREADS", "DP_INTRA_OP_PARALLELISM_THREADS", "DP_INTER_OP_PARALLELISM_THREADS")
_USER_SET_THREADS = any(n in os.environ for n in _THREAD_VARS)


class ResourcesMixin:
    """GPU and thread settings of :class:`ionsitu.campaign.Campaign` (methods of the campaign)."""

    def _set_gpu(self, world, rpr):
        k = self.conf["campaign"]["gpus_per_node"]
        if not k:
            return
        from mpi4py import MPI

        node = world.Split_type(MPI.COMM_TYPE_SHARED, key=world.Get_rank())
        local = node.Get_rank()
        node.Free()
        dev = (local // rpr) % k if self.conf["campaign"]["gpu_mapping"] == "group" else local % k
        os.environ["CUDA_VISIBLE_DEVICES"] = str(dev)

    def _set_threads(self, world):
        """DeePMD/TensorFlow threads per rank, when the user set none: the node's cores
        shared by its ranks (TensorFlow otherwise starts threads for every core in every
        rank, and concurrent runs fight over them)."""
        if not self.conf["potential"].get("deepmd"):    # the same on every rank
            return
        from mpi4py import MPI

        # collective on every rank, before any rank-local decision
        node = world.Split_type(MPI.COMM_TYPE_SHARED, key=world.Get_rank())
        nlocal = node.Get_size()
        node.Free()
        if _USER_SET_THREADS:
            return
        names = _THREAD_VARS
        try:
            ncpu = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not Linux
            ncpu = os.cpu_count() or 1
        per = max(1, ncpu // nlocal)
        os.environ.update({names[0]: str(per), names[1]: str(per), names[2]: "1"})
