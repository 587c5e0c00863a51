"""Processes training together over MPI (PyTorch's ``torch.distributed`` names).

Start the processes with an MPI launcher (``mpiexec -n 2 python train.py``,
``srun -n 8 python train.py``), call ``init_process_group(backend="mpi")``
in each, and wrap the model in :class:`sorix.nn.parallel.DistributedDataParallel`.
mpi4py is imported by ``init_process_group``, never by ``import sorix``.
"""
from .collectives import ReduceOp, Work, all_gather, all_reduce, broadcast
from .process_group import (barrier, cuda_aware, destroy_process_group, get_rank,
                            get_world_size, init_process_group, is_available, is_initialized)

__all__ = ["init_process_group", "destroy_process_group", "is_initialized", "is_available",
           "get_rank", "get_world_size", "barrier", "ReduceOp", "Work", "all_reduce",
           "broadcast", "all_gather", "cuda_aware"]
