"""How the numpy backend groups a network: its Policy for the shared planner (what one
generated function absorbs), the groups in execution order, what a group's function
holds at its busiest, and when BLAS runs on one thread."""

from __future__ import annotations

from ...layers import Epilogue, Role
from ...passes.fold import folds_into
from ...passes.fusion import Policy, plan
from .group import Group
from .lowerings import LOWERINGS

# A call of fewer multiply-adds than this runs BLAS on one thread (when threadpoolctl is
# installed and neither OPENBLAS_NUM_THREADS nor OMP_NUM_THREADS is set): measured with
# `benchmarks/numpy_cpu.py --threads-policy` (BENCHMARKS.md, "BLAS threads"): two threads never
# beat one by 20 % in any call measured, so the threshold is far above them all. The
# backend's GEMMs are chunk-sized (anchors.py CHUNK_BYTES), so a second thread mostly waits at the end
# of each, and on a busy machine for a scheduler slice.
ONE_BLAS_THREAD_BELOW = 10**12


class NumpyPolicy(Policy):
    """What one generated numpy function absorbs (the planner in passes/fusion.py
    decides the structure): a batchnorm only where it folds into the anchor's
    weights, activations until a pool, a pool where the head's lowering takes one
    (a conv takes a max pool, computed by tap), and a residual add after an anchor.
    Concat is an `np.concatenate`."""

    concat_in_place = False

    def absorbs(self, group, node) -> bool:
        head, kind = group.nodes[0], node.spec.epilogue
        if kind is Epilogue.AFFINE:
            return len(group.nodes) == 1 and node.spec.foldable and folds_into(head)
        if kind is Epilogue.ACTIVATION:
            return not group.has(Epilogue.POOL)
        if kind is Epilogue.POOL:
            return LOWERINGS[head.kind].takes_pool(node) and not group.has(Epilogue.POOL) \
                and not group.has(Epilogue.ADD)
        if kind is Epilogue.ADD:   # `y += skip` inside the anchor's chunk loop: a plain sum of two
            return head.spec.role is Role.ANCHOR and not group.has(Epilogue.POOL) and not group.has(Epilogue.ADD) \
                and LOWERINGS[node.kind].plain(node)
        return False


NUMPY = NumpyPolicy()


def plan_groups(net) -> list:
    """The numpy functions, in execution order: the planner's groups under NUMPY,
    plus one per concat (which the planner leaves to the backend)."""
    p = plan(net, NUMPY)
    groups = [Group(g.nodes) for g in p.groups] + [Group([j]) for j in p.joins]
    position = {n.name: i for i, n in enumerate(net.nodes)}
    return sorted(groups, key=lambda g: position[g.last.name])


def group_scratch(g, n: int) -> int:
    """The most bytes the group's function holds at once besides its inputs and its result."""
    head = LOWERINGS[g.head.kind]
    most = head.scratch(g, n)
    if not head.whole:
        for node in g.nodes[1:]:
            if node is not g.bn and node is not g.pool:
                most = max(most, LOWERINGS[node.kind].apply_scratch(node, n))
    return most
