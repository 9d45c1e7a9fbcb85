"""Where training runs: the device, and under `torchrun` the process group.

`torchrun --nproc-per-node N ...` starts N copies of the same command and tells each
its place through environment variables (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR,
MASTER_PORT). When WORLD_SIZE > 1 training runs as DistributedDataParallel: NCCL
between GPUs (one per process, cuda:LOCAL_RANK), gloo between CPU processes. One
process (WORLD_SIZE unset or 1) trains on its own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .data import DataError


@dataclass
class Place:
    device: object            # torch.device
    rank: int = 0
    world: int = 1
    backend: "str | None" = None
    owns_group: bool = False  # this run started the process group (and ends it)

    @property
    def distributed(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        """Rank 0: the one process that prints and writes files."""
        return self.rank == 0


def torchrun_world() -> "tuple[int, int, int]":
    """(rank, local rank, world size) from torchrun's variables; (0, 0, 1) without them."""
    env = os.environ
    try:
        world = int(env.get("WORLD_SIZE", "1"))
        rank = int(env.get("RANK", "0"))
        local = int(env.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise DataError("WORLD_SIZE, RANK and LOCAL_RANK must be whole numbers (torchrun sets them)") from None
    if world < 1 or not 0 <= rank < world or local < 0:
        raise DataError(f"inconsistent torchrun variables: RANK={rank}, LOCAL_RANK={local}, WORLD_SIZE={world}")
    return rank, local, world


def is_main_process() -> bool:
    """True unless this is a non-zero rank of a torchrun job (those neither print nor write)."""
    try:
        return torchrun_world()[0] == 0
    except DataError:
        return True


def choose_device(choice: str, local_rank: int = 0):
    """`auto`: the GPU when torch sees one, else the CPU; `cuda` without a GPU is a DataError."""
    import torch

    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise DataError(f"--device cuda: torch {torch.__version__} sees no CUDA GPU here; use --device cpu or auto")
    count = torch.cuda.device_count()
    if local_rank >= count:
        raise DataError(f"process with LOCAL_RANK {local_rank} has no GPU of its own ({count} visible); "
                        f"start at most {count} processes per node")
    torch.cuda.set_device(local_rank)
    return torch.device("cuda", local_rank)


def start(choice: str) -> Place:
    """The device, and the process group when started by torchrun (joined if already there)."""
    rank, local, world = torchrun_world()
    device = choose_device(choice, local if world > 1 else 0)
    if world == 1:
        return Place(device)
    import torch.distributed as dist

    backend = "nccl" if device.type == "cuda" else "gloo"
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group(backend=backend)
    return Place(device, rank=dist.get_rank(), world=dist.get_world_size(), backend=dist.get_backend(), owns_group=owns)


def stop(place: Place) -> None:
    if place.owns_group:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
