"""A numpy fusion group: the nodes one generated function computes, sorted into the parts
the code generator emits."""

from __future__ import annotations

from ...layers import Epilogue


class Group:
    """Nodes computed by one generated function, sorted into the parts the code
    generator emits; `head` reads the inputs."""

    def __init__(self, nodes):
        self.nodes = list(nodes)
        self.head = self.nodes[0]
        self.bn = None          # a folded affine epilogue (batchnorm, layerscale, normalize)
        self.acts = []          # activation layers applied after the head
        self.pool = None        # a max pool fused into a conv group
        self.res = None         # a residual join fused into an anchor's group ...
        self.skip = None        # ... and its other input, computed before the group
        self.post = []          # activation layers after the residual
        for n in self.nodes[1:]:
            kind = n.spec.epilogue
            if kind is Epilogue.AFFINE:
                self.bn = n
            elif kind is Epilogue.ACTIVATION:
                (self.post if self.res is not None else self.acts).append(n)
            elif kind is Epilogue.POOL:
                self.pool = n
            elif kind is Epilogue.ADD:
                before = self.nodes[self.nodes.index(n) - 1]
                self.res, self.skip = n, (n.inputs[1] if n.inputs[0] is before else n.inputs[0])

    @property
    def last(self):
        return self.nodes[-1]

    @property
    def inputs(self) -> list:
        """The nodes the group's function reads, in its parameter order."""
        return self.head.inputs + ([self.skip] if self.res is not None else [])
