"""Which input sizes a network accepts: the least H and W, and the rule for the others.

Every statement acts on H and W separately, so each axis is simulated alone with the
registry's own per-axis rules (`spec.spatial`, a join's `join_axis`); sizes are ints on
images and None on vectors.

The rule (`input_rule`) is proved, not sampled. Along one axis each layer's rule is
floor((g·n + b) / s) for its growth g and stride s (the registry's `growth` and
`geometry`): a window is floor((n + 2p - k) / s) + 1, `same` is ceil(n / s), a zeropad
or a crop n + b, an upsample or a deconv g·n + b. Write rho_v for the product of g / s
along the way to node v (the inverse of its cumulative stride). If P is a whole number
with rho_u·P whole for every u on the way, then by induction, for every n,

    size_v(n + P) = size_v(n) + rho_v·P                                          (*)

since floor((g·(x + rho_u·P) + b) / s) = floor((g·x + b) / s) + rho_v·P when rho_v·P is
whole. A join's output is its first input's size wherever it accepts (its inputs agree).
So, with P the least common multiple of the denominators of rho over everything that
feeds a join of two or more images:
- every layer's size is non-decreasing in n, so "no layer collapses" holds exactly from
  one least size N on;
- the two sides of a join differ by d(n) with d(n + P) = d(n) + (rho_a - rho_b)·P: when
  the rates agree, whether a join's inputs agree depends only on n mod P; when they
  differ, they agree at most once in each residue class, and the accepted sizes are a
  finite set.
Hence the accepted sizes are {n >= N : n mod P in R} (or a finite set), and checking
the P sizes N .. N+P-1 with the shape checker finds R. (*) itself is checked on each of
those sizes against the simulation (the sizes at n + P), so a kind whose declared
geometry does not describe its shape rule makes the rule "not proved" rather than wrong.
The rule is then reduced to its least step. It is not separable, and not stated, when a
join ties H and W together (a residual of two flattened vectors: h·w·c must match), or
when proving it would take more than PROOF_BUDGET layer evaluations.
"""

from __future__ import annotations

from .layers import Image, ShapeError, Vector

# How many layer evaluations a proof may cost (the network's layers times the sizes
# simulated): LeNet needs 80, ResNet-50 about 11,000 (65 sizes of its 175 layers); a
# step in the millions (twenty stride-2 layers before a join) is reported as not proved.
PROOF_BUDGET = 4_000_000
# The proof simulates this many sizes in one pass over the network (memory: the layers
# times twice this many ints)
_CHUNK = 256


def _axis_ok(nodes, n_in: int, axis: int, relaxed: bool = False) -> bool:
    """Does the program have no error along `axis` when the input has `n_in` there?

    `relaxed` ignores the join's equal-size rule (a join takes its smallest input):
    then acceptance is monotone in `n_in`, which lets `min_input_of` bisect to a lower
    bound.
    """
    return _sizes(nodes, n_in, axis, "smallest" if relaxed else "fail") is not None


def accepts(nodes, shape) -> bool:
    """Does the whole graph take an input of `shape` (H, W, C) without a shape error?"""
    return _types(nodes, shape) is not None


def _square(nodes, shape) -> bool:
    """A square input through layers that treat H and W alike: each axis has the same answer."""
    return shape[0] == shape[1] and all(n.attrs is not None and n.spec.same_on_both_axes(n.attrs) for n in nodes)


def min_input_of(nodes, shape, limit: int = 4096, valid: bool = True) -> "tuple[int, int] | None":
    """The least H and the least W (each searched alone) the graph accepts, or None.

    `valid`: the graph is known to accept `shape` (a parsed network), so each
    search can stop at the given size and falls back to it beyond `limit`.
    Otherwise (a collapse error's hint) sizes 1..limit are searched.
    """
    # H and W are independent unless a join meets vectors (whose length mixes H, W
    # and C); only then does a candidate also need the full check, other axis as given.
    full = valid and any(n.spec.joins and not isinstance(n.out, Image) for n in nodes)
    square = _square(nodes, shape)
    result = []
    for axis in ((0,) if square else (0, 1)):
        given = shape[axis]
        lo = _first(lambda n: _axis_ok(nodes, n, axis, relaxed=True), limit) or limit + 1
        found = None
        for n in range(lo, min(limit, given if valid else limit) + 1):
            if _axis_ok(nodes, n, axis) and (not full or accepts(nodes, _with(shape, axis, n))):
                found = n
                break
        if found is None and valid and given > limit:
            found = given  # beyond the search limit: the given size is known good
        if found is None:
            return None
        result.append(found)
    return (result[0], result[0]) if square else tuple(result)


def _first(pred, limit: int) -> "int | None":
    """The least n in 1..limit for which the monotone `pred` holds (doubling, then bisection)."""
    if pred(1):
        return 1
    if not pred(limit):
        return None
    lo, hi = 2, 2
    while not pred(hi):
        lo, hi = hi + 1, min(hi * 2, limit)
    while lo < hi:
        mid = (lo + hi) // 2
        if pred(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _with(shape, axis, n):
    s = list(shape)
    s[axis] = n
    return tuple(s)


def min_input(net, limit: int = 4096) -> "tuple[int, int] | None":
    """The least H and the least W the (valid) network accepts, each with the other as given."""
    rule = input_rule(net)
    if rule["h"] is not None and rule["w"] is not None:
        return rule["h"]["min"], rule["w"]["min"]
    return min_input_of(net.nodes, net.input_shape, limit)


# --- the rule: which sizes work ------------------------------------------------------

class _Unproved(Exception):
    """The rule cannot be proved (within PROOF_BUDGET, or the registry's geometry does not
    describe a kind's shape rule): the summary says so instead of guessing."""


_FAIL, _VECTOR, _SAME, _RESIZE = "fail", "vector", "same", "resize"


def _step(spec, on_vector: bool, identity) -> str:
    """What a layer of one input does to a size along an axis, for _sizes and _sizes_of_many:
    _FAIL (an image kind on a vector, or a vector kind on an image: no size helps), _VECTOR
    (its output is a vector), _SAME (it keeps the size: `identity` is LayerKind.spatial, which
    its kind does not override) or _RESIZE (spec.spatial gives the new size)."""
    if on_vector:
        return _FAIL if spec.on == "image" else _VECTOR
    if spec.on == "vector":
        return _FAIL
    if spec.makes_vector:
        return _VECTOR
    return _SAME if type(spec).spatial is identity else _RESIZE


def _sizes(nodes, n_in: int, axis: int, mismatch: str = "first"):
    """Every node's size along `axis` for input size `n_in`.

    A join whose image inputs differ along `axis` gives, by `mismatch`: "fail" (None, the
    program's own rule), "smallest" (its smallest input: acceptance is then monotone in
    n_in) or "first" (its first image input's size, which the proof follows: see the
    module docstring).

    Returns (sizes by id, joined) -- `joined`: every join's inputs agree -- or None
    when a layer collapses or the structure is wrong (an image kind on a vector),
    which are monotone in n_in: once fine, fine for every larger size."""
    from .layers import LayerKind

    identity = LayerKind.spatial   # most layers keep the size (activations, batchnorm, ...)
    size: dict = {}
    joined = True
    for n in nodes:
        if not n.inputs:
            size[id(n)] = n_in
            continue
        ins = [size[id(i)] for i in n.inputs]
        spec = n.spec
        if spec.joins:
            try:
                out = spec.join_axis(ins, False)
            except ShapeError:
                if mismatch == "fail":
                    return None
                try:
                    smallest = spec.join_axis(ins, True)
                except ShapeError:
                    return None   # images meet vectors: no size helps
                joined = False
                out = smallest if mismatch == "smallest" else next(s for s in ins if s is not None)
        else:
            step = _step(spec, ins[0] is None, identity)
            if step is _FAIL:
                return None
            out = None if step is _VECTOR else ins[0] if step is _SAME else spec.spatial(ins[0], axis, n.attrs)
            if out is not None and out <= 0:
                return None
        size[id(n)] = out
    return size, joined


def _sizes_of_many(nodes, ns, axis: int, alive: "list | None" = None):
    """_sizes(nodes, n, axis, "first") for every n of `ns` at once, one pass over the
    network: a layer that keeps the size shares its input's list, so the per-layer work
    of a pass is paid once, not once per size (the proof simulates every size of a step).

    Returns (sizes by id -> a list along `ns`, or None on a vector; joined, a list of
    bools along `ns`), or None when the structure is wrong (an image kind on a vector,
    at every n alike) or a layer collapses at some n of `ns`. With `alive` (a list of
    True along `ns`) a collapse at the k-th n sets alive[k] False instead, and the pass
    goes on with size 1 there (what follows from it is not read)."""
    from .layers import LayerKind

    identity = LayerKind.spatial
    steps: tuple = ({}, {})   # _step of each kind, on an image and on a vector: asked once
    size: dict = {}
    joined = [True] * len(ns)
    for n in nodes:
        if not n.inputs:
            size[id(n)] = list(ns)
            continue
        spec = n.spec
        if spec.joins:
            cols = [size[id(i)] for i in n.inputs]
            first = cols[0]
            if all(c is first for c in cols):   # one list (a residual's sides): it joins to itself
                size[id(n)] = first
                continue
            join = spec.join_axis
            try:
                join([c if c is None else c[0] for c in cols], True)
            except ShapeError:
                return None   # images meet vectors: no size helps
            if all(c is None for c in cols):
                out = None
            elif None not in cols and all(c == cols[0] for c in cols):
                out = cols[0]   # images of one size, at every n: they join to it
            else:
                out = []
                for k in range(len(ns)):
                    ins = [c if c is None else c[k] for c in cols]
                    try:
                        out.append(join(ins, False))
                    except ShapeError:
                        joined[k] = False
                        out.append(next(s for s in ins if s is not None))
            size[id(n)] = out
            continue
        inp = size[id(n.inputs[0])]
        known = steps[inp is None]
        step = known.get(spec)
        if step is None:
            step = known[spec] = _step(spec, inp is None, identity)
        if step is _FAIL:
            return None
        if step is _VECTOR:
            out = None
        elif step is _SAME:
            out = inp
        else:
            out = spec.spatial_many(inp, axis, n.attrs)
            if min(out) <= 0:
                if alive is None:
                    return None
                for k, x in enumerate(out):
                    if x <= 0:
                        alive[k], out[k] = False, 1
        size[id(n)] = out
    return size, joined


def _least(nodes, axis: int, hi: int):
    """The least n in 1..hi at which no layer collapses along `axis` (monotone in n), the
    ids of the nodes that are images (the same at every n), and the last pass's sizes as
    (the sizes passed, `_sizes_of_many`'s answer) when none collapsed; None when no n is. What `_first`
    finds, in a few batched passes: 1 and 2 (most networks take 1: the proof then
    reads both from this pass), then 4, 8, ... and hi, then eight sizes spread over the
    range that holds the answer, narrowing it eightfold a pass."""
    lo, probes = 1, [1, 2] if hi >= 2 else [1]
    while True:   # probes[0] is lo, and the least size is lo or above
        alive = [True] * len(probes)
        found = _sizes_of_many(nodes, probes, axis, alive)
        if found is None:
            return None
        if True in alive:
            i = alive.index(True)
            good = probes[i]
            lo = probes[i - 1] + 1 if i else lo
            if lo == good:
                exact = False not in alive   # (a collapsed size's sizes are stand-ins)
                return good, {k for k, v in found[0].items() if v is not None}, (probes, found) if exact else ((), None)
            span = good - lo
            probes = sorted({lo + span * j // 8 for j in range(8)}) + [good]
        elif probes[-1] == hi or hi <= 1:
            return None
        else:
            lo = probes[-1] + 1
            probes = sorted({1 << i for i in range(1, hi.bit_length()) if lo <= 1 << i < hi} | {lo, hi})


def _rates(nodes, axis: int, images: set) -> dict:
    """id(node) -> rho as (numerator, denominator) in lowest terms, for the nodes in
    `images` (which hold every image node that feeds them): output pixels per input pixel
    along `axis`, from the registry's stride and growth; a join follows its first image
    input. (Pairs of ints, not fractions.Fraction: importing `fractions`, which imports
    `decimal`, would cost `cnnc shapes` about a tenth of its start-up.)"""
    from math import gcd

    rho: dict = {}
    for n in nodes:
        if id(n) not in images:
            continue
        if not n.inputs:
            rho[id(n)] = (1, 1)
        elif n.spec.joins:
            rho[id(n)] = next(rho[id(i)] for i in n.inputs if id(i) in images)
        else:
            (_, stride) = n.spec.geometry(n.attrs)
            g, s = n.spec.growth(n.attrs)[axis], stride[axis]
            p, q = rho[id(n.inputs[0])]
            if g != s:
                p, q = p * g, q * s
                d = gcd(p, q)
                p, q = p // d, q // d
            rho[id(n)] = (p, q)
    return rho


def _feeding_joins(nodes, images: set):
    """The joins of two or more images (those with an equal-size rule), and every image
    node that feeds one (their sizes decide whether the joins accept)."""
    joins = [n for n in nodes if n.spec.joins and sum(id(i) in images for i in n.inputs) >= 2]
    feeding: set = set()
    stack = [i for j in joins for i in j.inputs if id(i) in images]
    while stack:
        n = stack.pop()
        if id(n) in feeding:
            continue
        feeding.add(id(n))
        stack.extend(i for i in n.inputs if id(i) in images)
    return joins, feeding


def _lcm(a: int, b: int) -> int:
    from math import gcd

    return a // gcd(a, b) * b


def axis_rule(nodes, axis: int, hi: int) -> "dict | None":
    """The sizes along `axis` (the other as given) that the graph accepts, proved.

    `hi`: a size to search up to for the least one (a valid network's own size, which
    it accepts, or a bound). Returns {"min", "step", "residues"} -- every n >= min with
    n % step in residues works, no other size does -- or {"min", "sizes"} when only
    finitely many do; None when no size up to `hi` does. Raises _Unproved."""
    from .limits import MAX_SIZE

    least = _least(nodes, axis, hi)
    if least is None:
        return None
    start, images, (probed, probed_sizes) = least
    joins, feeding = _feeding_joins(nodes, images)
    if not joins:   # nothing has to agree: every size from the least works (monotone)
        return {"min": start, "step": 1, "residues": [0]}
    rho = _rates(nodes, axis, feeding)
    step = 1
    for den in {rho[k][1] for k in feeding}:
        step = _lcm(step, den)
        if step * len(nodes) * 2 > PROOF_BUDGET:
            raise _Unproved(f"the sizes repeat every {step:,} or more, too many to check")
    unequal = []   # (a, b): inputs of a join whose rates differ
    for j in joins:
        ins = [i for i in j.inputs if id(i) in images]
        unequal += [(ins[0], i) for i in ins[1:] if rho[id(i)] != rho[id(ins[0])]]
    accepted = []
    # what one step adds to each size, by (*): rho·step, a whole number, step being a multiple
    # of every rate's denominator
    growth = {k: rho[k][0] * (step // rho[k][1]) for k in feeding}
    for lo in range(start, start + step, _CHUNK):   # the sizes r and r + step, a chunk of r at a time
        rs = range(lo, min(lo + _CHUNK, start + step))
        m = len(rs)
        # one pass over the network for both: sizes[:m] at each r, sizes[m:] at r + step (the
        # least size's pass already holds them when it tried exactly start and start + 1)
        wanted = list(rs) + [r + step for r in rs]
        both = probed_sizes if wanted == probed else _sizes_of_many(nodes, wanted, axis)
        if both is None:
            raise _Unproved("a layer's size is not monotone in the input's")
        sizes_of, joined = both
        checked = set()   # a layer that keeps the size shares its input's lists: checked with it
        for k in feeding:   # (*) of the module docstring, checked
            sizes, g = sizes_of[k], growth[k]
            if (id(sizes), g) not in checked:
                checked.add((id(sizes), g))
                if sizes[m:] != [a + g for a in sizes[:m]]:
                    raise _Unproved("a layer's declared stride does not describe its shape rule")
        if not unequal:
            if joined[:m] != joined[m:]:
                raise _Unproved("a join's agreement is not periodic")
            accepted += [r for r, ok in zip(rs, joined) if ok]
            continue
        # a join whose sides grow at different rates agrees at most once per class: where
        a, b = unequal[0]
        # each step closes the gap by (rho_a - rho_b)·step, nonzero: they agree after a whole
        # number of steps, if any
        closing = growth[id(a)] - growth[id(b)]
        for r, size_a, size_b in zip(rs, sizes_of[id(a)], sizes_of[id(b)]):
            times, left = divmod(size_b - size_a, closing)
            if left == 0 and times >= 0 and r + times * step <= MAX_SIZE:
                n = r + times * step
                found = _sizes(nodes, n, axis)
                if found is not None and found[1]:
                    accepted.append(n)
    if unequal:
        return {"min": min(accepted), "sizes": sorted(accepted)} if accepted else None
    if not accepted:
        return None
    return _reduced(accepted, step)


def _reduced(accepted: list, step: int) -> dict:
    """{n >= accepted[0] : n mod step in accepted mod step} with its least step."""
    classes = {r % step for r in accepted}
    for d in range(1, step + 1):
        if step % d == 0 and all((r + d) % step in classes for r in classes):
            return {"min": accepted[0], "step": d, "residues": sorted({r % d for r in classes})}
    raise AssertionError("not reached: step itself is a period")


def _types(nodes, shape) -> "dict | None":
    """id(node) -> its output type for an input of `shape`, or None on a shape error."""
    out: dict = {}
    try:
        for n in nodes:
            if not n.inputs:
                out[id(n)] = Image(*shape)
            elif n.spec.joins:
                out[id(n)] = n.spec.join([out[id(i)] for i in n.inputs])
            else:
                out[id(n)] = n.spec.infer(out[id(n.inputs[0])], n.attrs)
    except ShapeError:
        return None
    return out


def _tied(nodes, types: dict) -> bool:
    """Do H and W depend on each other: does a join constrain a vector whose length comes
    from the image's height and width (`flatten`)? Each kind is asked through its own
    rule: a vector is `spatial` when its length changes with the image's size. `types`:
    every node's output for an input the network accepts."""
    if not any(n.spec.joins and any(isinstance(types[id(i)], Vector) for i in n.inputs) for n in nodes):
        return False   # no join meets a vector (the common case: no need to follow lengths)
    spatial: set = set()
    for n in nodes:
        if not n.inputs:
            continue
        if n.spec.joins:
            for i in n.inputs:
                if id(i) in spatial:
                    other = [Vector(types[id(t)].n + 1) if t is i else types[id(t)] for t in n.inputs]
                    try:
                        n.spec.join(other)
                    except ShapeError:
                        return True   # the join wants that length: H and W meet there
            if any(id(i) in spatial for i in n.inputs) and isinstance(types[id(n)], Vector):
                spatial.add(id(n))
            continue
        inp, out = types[id(n.inputs[0])], types[id(n)]
        if not isinstance(out, Vector):
            continue
        try:
            if isinstance(inp, Image):
                moved = n.spec.infer(Image(inp.h + 1, inp.w + 1, inp.c), n.attrs) != out
            else:
                moved = id(n.inputs[0]) in spatial and n.spec.infer(Vector(inp.n + 1), n.attrs) != out
        except ShapeError:
            moved = True
        if moved:
            spatial.add(id(n))
    return False


def rule_of(nodes, shape, valid: bool = True, limit: int = 4096) -> dict:
    """{"h": rule or None, "w": ..., "why": why a None rule is not stated}, for the nodes
    of a network (`valid`: it accepts `shape`) or of one that failed on `shape` (then
    the least size is searched up to `limit`). An axis rule is `axis_rule`'s; None means
    no size works (`why` None) or the rule is not proved (`why` says why)."""
    why = None
    rules = []
    if valid and _tied(nodes, {id(n): n.out for n in nodes}):
        return {"h": None, "w": None, "why": TIED}
    axes = (0,) if _square(nodes, shape) else (0, 1)
    for axis in axes:
        try:
            rules.append(axis_rule(nodes, axis, shape[axis] if valid else limit))
        except _Unproved as e:
            rules.append(None)
            why = str(e)
    if len(rules) == 1:
        rules.append(rules[0])
    return {"h": rules[0], "w": rules[1], "why": why}


TIED = "a join of flattened vectors ties H and W together"


def size_hint(nodes, shape, limit: int = 4096) -> "str | None":
    """For a network that fails on `shape` only because of its size (a collapse, a join
    whose sides differ): the nearest input sizes that work and the rule, e.g. `the
    nearest inputs that work are 8x8 and 16x16; H and W must be multiples of 8 (8, 16, 24,
    ...)`. Every size it names is checked with the whole shape checker; None when no
    size up to `limit` works."""
    rule = rule_of(nodes, shape, valid=False, limit=limit)
    if rule["h"] is None or rule["w"] is None:
        return None
    hs, ws = nearest(rule["h"], shape[0]), nearest(rule["w"], shape[1])
    found = []
    for h, w in ((hs[0], ws[0]), (hs[-1], ws[-1])):
        if (h, w) not in found and accepts(nodes, (h, w, shape[2])):
            found.append((h, w))
    if not found:
        return None
    names = " and ".join(f"{h}x{w}" for h, w in found)
    text = f"the nearest input{'s' if len(found) > 1 else ''} that work{'' if len(found) > 1 else 's'} " \
           f"{'are' if len(found) > 1 else 'is'} {names}"
    if _tied(nodes, _types(nodes, (*found[0], shape[2]))):
        return text
    words = rule_words(rule, examples=False)
    return text if words == "any larger size works" else f"{text}; {words}"


def input_rule(net) -> dict:
    """The proved rule for a network's input sizes: {"h": ..., "w": ...}, each an
    `axis_rule` (with the other axis as given), or None where it is not proved
    (`why` then says why). Cached on the network: the summary asks more than once."""
    cached = getattr(net, "_input_rule", None)
    if cached is None:
        cached = rule_of(net.nodes, net.input_shape)
        net._input_rule = cached
    return cached


# --- the rule in words -----------------------------------------------------------------

def works(rule: dict, n: int) -> bool:
    """Does the axis `rule` accept size n?"""
    if "sizes" in rule:
        return n in rule["sizes"]
    return n >= rule["min"] and n % rule["step"] in rule["residues"]


def nearest(rule: dict, n: int) -> list:
    """The sizes the axis `rule` accepts nearest to n: the largest below and the least
    above (one of them when n is beyond every size, or n itself when it works)."""
    if works(rule, n):
        return [n]
    if "sizes" in rule:
        below = [s for s in rule["sizes"] if s < n]
        above = [s for s in rule["sizes"] if s > n]
        return ([below[-1]] if below else []) + ([above[0]] if above else [])
    if n < rule["min"]:
        return [rule["min"]]
    below = next(m for m in range(n - 1, rule["min"] - 1, -1) if works(rule, m))
    above = next(m for m in range(n + 1, n + rule["step"] + 1) if works(rule, m))
    return [below, above]


def _axis_words(rule: dict, both: bool, examples: bool = True) -> "str | None":
    """What an axis rule says beyond its least size, for one axis or (`both`) for H and W
    alike: None (any larger size), `must be a multiple of 8 (8, 16, 24, ...)`, `must be
    4k+1 or 4k+2 (5, 6, 9, 10, ...)`, `can only be 3 or 4`."""
    if "sizes" in rule:
        sizes = [str(n) for n in rule["sizes"]]
        return "can only be " + (sizes[0] if len(sizes) == 1 else ", ".join(sizes[:-1]) + " or " + sizes[-1])
    step, residues = rule["step"], rule["residues"]
    if step == 1:
        return None
    first = [n for n in range(rule["min"], rule["min"] + 3 * step) if works(rule, n)][:4]
    shown = f" ({', '.join(map(str, first))}, ...)" if examples else ""
    if residues == [0]:
        return f"must be {'multiples' if both else 'a multiple'} of {step}{shown}"
    forms = [f"{step}k" if r == 0 else f"{step}k+{r}" for r in residues]
    return "must be " + (forms[0] if len(forms) == 1 else ", ".join(forms[:-1]) + " or " + forms[-1]) + shown


def rule_words(rule: dict, examples: bool = True) -> str:
    """The input-size rule as the summary prints it after the least size: `any larger size
    works`, `H and W must be multiples of 8 (8, 16, 24, ...)`, `H must be 4k+1 (5, 9, 13,
    ...); any larger W works`; why it is not stated when it is not proved. `examples`: with
    the first sizes that work, in parentheses."""
    h, w = rule["h"], rule["w"]
    if h is None or w is None:
        return f"which larger sizes work is not proved ({rule['why']})" if rule.get("why") else ""
    if h == w or (_axis_words(h, True) is None and _axis_words(w, True) is None):
        words = _axis_words(h, True, examples)
        return "any larger size works" if words is None else f"H and W {words}"
    parts = [f"{axis} {words}" for axis, words in (("H", _axis_words(h, False, examples)),
                                                   ("W", _axis_words(w, False, examples))) if words is not None]
    parts += [f"any larger {axis} works" for axis, r in (("H", h), ("W", w)) if _axis_words(r, False) is None]
    return "; ".join(parts)
