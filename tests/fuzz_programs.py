"""Program generators for the fuzz and differential tests (not a test module itself).

Two families, each driven by a *chooser* (`Chooser`: ints, picks, coins) so that the same
generator runs under hypothesis (`Drawn`, which shrinks a failure to a small program) and
from a seeded `random.Random` (`Seeded`, thousands of programs a second for the CI budget):

* `any_program(c)`: text that may or may not be a valid program -- every statement of the
  registry with arguments from a vocabulary of edge cases (zero, negative, huge, 5000-digit,
  malformed sizes), blocks nested and labelled, separators, comments, a byte-order mark,
  then a few character mutations. The front end must answer each with a network or a
  CnncError, never anything else.
* `network(c)`: a valid network on a small input, built statement by statement so that its
  shapes always fit: identity branches (empty, repeated), concats of concats, residuals
  around views and around other residuals, repeats, every activation, pools with every
  padding rule; and the third edition's: uses of definitions (with expressions, labels
  and joins inside, in blocks and repeats), named joins (`add`, `concat`, `multiply`,
  `from=`), `add { branch … }` and scaled residuals. Each statement's shape comes from the registry itself (a one-line program
  is parsed), so the generator never re-implements a shape rule.

Both are tables: `ANY_STATEMENTS` and `NETWORK_STATEMENTS` map a name to a generator
function. A new layer kind is one entry in each. Until it has them, both still reach it:
`any_program` writes every keyword of the registry with random arguments, and `network`
tries any keyword it does not write itself with arguments from a small vocabulary
(`_other_kind`), keeping what the registry accepts.
"""

from __future__ import annotations

import random

import cnnc
from cnnc.layers import ACTIVATION_NAMES, STATEMENTS

# --- choosers ------------------------------------------------------------------------


class Chooser:
    def int(self, lo: int, hi: int) -> int:
        raise NotImplementedError

    def pick(self, seq):
        seq = list(seq)
        return seq[self.int(0, len(seq) - 1)]

    def coin(self, percent: int = 50) -> bool:
        return self.int(1, 100) <= percent


class Seeded(Chooser):
    """Choices from `random.Random(seed)`: the same seed, the same program."""

    def __init__(self, seed):
        self.rng = random.Random(seed)

    def int(self, lo, hi):
        return self.rng.randint(lo, hi)


class Drawn(Chooser):
    """Choices drawn by hypothesis (`st.data()`), so a failing program shrinks."""

    def __init__(self, data):
        from hypothesis import strategies as st

        self.data, self.st = data, st

    def int(self, lo, hi):
        return self.data.draw(self.st.integers(lo, hi))


# --- any program: valid or not -----------------------------------------------------------

HUGE = "9" * 5000
NUMBERS = ["1", "2", "3", "0", "-1", "+2", "007", "0.5", "1e-3", "1e999", "-0.0", ".5", "2.",
           "1048576", "1048577", "2147483648", "99999999999999999999", HUGE, "1" + "0" * 4301]
SIZES = ["3x3", "2x1", "1x1", "0x3", "3x0", "-1x2", "3x3x3", "1x1x1x1", "1048577x1", "99999999999x3",
         HUGE + "x1", "2x" + HUGE]
WORDS = ["same", "valid", "relu", "softmax", "linear", "x", "conv", "residual", "_", "Same", "w" * 5000, "sofmax",
         "strides", "kernel_size"]


def _value(c: Chooser) -> str:
    pool = c.pick((NUMBERS, NUMBERS, SIZES, WORDS, list(ACTIVATION_NAMES)))
    return c.pick(pool)


def _small(c: Chooser) -> str:
    return str(c.int(1, 4)) if c.coin(85) else _value(c)


def _args(c: Chooser, options=()) -> str:
    parts = []
    for _ in range(c.int(0, 3)):
        if options and c.coin(40):
            parts.append(f"{c.pick(options)}={_value(c) if c.coin(30) else _small(c)}")
        else:
            parts.append(_value(c) if c.coin(30) else _small(c))
    return " ".join(parts)


def _window(kind):
    def make(c):
        head = f"{kind} {_small(c)}" if kind != "conv" else f"conv {_small(c)} {c.pick(['3x3', '1', '2x1', _small(c)])}"
        opts = []
        if c.coin(40):
            opts.append(f"stride={c.pick(['1', '2', '2x1', _small(c)])}")
        if c.coin(40):
            opts.append(f"padding={c.pick(['same', 'valid', '0', '1', '2', _value(c)])}")
        if kind == "conv" and c.coin(50):
            opts.append(c.pick(ACTIVATION_NAMES))
        return " ".join([head] + opts)
    return make


ANY_STATEMENTS = {
    "conv": _window("conv"),
    "pool": _window("pool"),
    "avgpool": _window("avgpool"),
    "globalpool": lambda c: "globalpool",
    "flatten": lambda c: "flatten",
    "dense": lambda c: f"dense {_small(c)}" + (f" {c.pick(ACTIVATION_NAMES)}" if c.coin(50) else ""),
    "batchnorm": lambda c: c.pick(["batchnorm", "batchnorm eps=1e-5", f"batchnorm eps={_value(c)}"]),
    "dropout": lambda c: f"dropout {c.pick(['0.5', '0', '0.99', _value(c)])}",
    "activation": lambda c: c.pick(ACTIVATION_NAMES),
    "input": lambda c: f"input {c.pick(['4x4x1', '8x8x3', _value(c)])}",
    "new kinds": lambda c: c.pick([
        f"dwconv {c.pick(['3', '2x1', _small(c)])} multiplier={_small(c)} padding={c.pick(['same', 'valid', _small(c)])}",
        f"sepconv {_small(c)} 3 dilation={_small(c)} bias={c.pick(['false', 'true', _value(c)])}",
        f"deconv {_small(c)} {c.pick(['2', '3', _small(c)])} stride={_small(c)} padding={c.pick(['same', 'valid', '1'])}",
        f"upsample {_small(c)} mode={c.pick(['nearest', 'bilinear', _value(c)])}",
        f"zeropad {c.pick(['1', '0', '1x2', _value(c)])}", f"zeropad top={_small(c)} left={_value(c)}",
        "globalmaxpool", f"rescale {c.pick(['0.5', '-1', _value(c)])} offset={_value(c)}",
        f"conv {_small(c)} 3 dilation={_small(c)} groups={_small(c)} bias=false",
        f"batchnorm scale={c.pick(['false', _value(c)])} center=false"]),
    # every keyword of the registry with arbitrary arguments (new kinds get fuzzed too)
    "registry": lambda c: f"{c.pick(STATEMENTS)} {_args(c, ('stride', 'padding', 'eps', 'activation', 'x'))}",
    "third edition": lambda c: c.pick([
        f"add {c.pick(['a', 'b', 'input', 'conv_1', 'x', '3'])} {c.pick(['a', 'b', 'input', 'zz'])}",
        f"concat a {c.pick(['b', 'input', 'a', '2x2'])}", f"multiply {c.pick(['a', 'input'])} b",
        f"multiply a b {c.pick(['c', 'input'])}", "add", "concat", f"conv 2 1 from={c.pick(['a', 'b', 'input', '3'])}",
        f"relu from={c.pick(['a', 'nowhere', 'input'])} from=b", f"blk {_small(c)}", f"blk {_small(c)} k={_value(c)}",
        f"blk f={_small(c)} z=1", f"conv {_small(c)}*{_small(c)} {c.pick(['3', '1+2', '(2)', 'max(1, 3)'])}",
        f"dense {c.pick(['4//0', '4//2', '-3+1', '2*2x2', 'min()', 'max(1)', 'q*2'])}",
        f"normalize mean={c.pick(['0.5,0.5,0.5', '1,2', '1,,2', '1,x'])}",
        f"def {c.pick(['blk', 'same', 'conv', 'd2'])} {c.pick(['f', 'same', 'stride', 'f k=3', 'k=3 f', 'f f'])} "
        f"{{ {c.pick(['conv f k padding=same', 'relu', 'blk 2', 'd2', 'conv f*2 1', ''])} }}"]),
    "junk": lambda c: c.pick(["covn 3 3", "Conv 8 3x3", "maxpool2d 2", "shortcut", "branch", "residual",
                              "repeat", "a:", ": relu", "relu =", "= 3", "x" * 5000, "conv 8 3x3 =same",
                              'conv 8 (3, 3) padding="same"', "conv 8 3 x 3", "pool [2,2]", "dense 4 activation='relu'",
                              f"conv 2 3 {'q' * 5000}=1", f"conv 2 3 padding={'p' * 5000}", f"{'r' * 5000}: relu"]),
}


def _any_block(c: Chooser, depth: int) -> str:
    def body():
        return "{ " + _any_statements(c, depth + 1, c.int(0, 3)) + " }"
    kind = c.pick(["residual", "residual_shortcut", "concat", "repeat", "scale", "add", "scaled", "stray"])
    if kind == "residual":
        return f"residual {body()}"
    if kind == "residual_shortcut":
        return f"residual {body()} shortcut {body()}"
    if kind == "concat":
        return "concat { " + " ".join(f"branch {body()}" for _ in range(c.int(0, 3))) + " }"
    if kind == "repeat":
        return f"repeat {c.pick(['1', '2', '3', '0', '-1', 'x', '2x2', '100001', HUGE])} {body()}"
    if kind == "scale":
        return "scale { " + c.pick(["globalpool; dense 2 relu; dense 3 sigmoid", "", _any_statements(c, depth + 1, 2)]) + " }"
    if kind == "add":
        return "add { " + " ".join(f"branch {body()}" for _ in range(c.int(0, 3))) + " }"
    if kind == "scaled":
        return f"residual scale={c.pick(['0.17', '-1', 'x', '1'])} {c.pick(['', 'from=a ', 'q=1 '])}{body()}"
    return f"{c.pick(['shortcut', 'branch', 'repeat', 'concat 2', 'residual 2', 'def x', 'repeat n'])} {body()}"


def _any_statement(c: Chooser, depth: int) -> str:
    if depth < 3 and c.coin(25):
        text = _any_block(c, depth)
    else:
        text = ANY_STATEMENTS[c.pick(ANY_STATEMENTS)](c)
    if c.coin(12):
        text = f"{c.pick(['a', 'b', 'conv_1', 'relu_2', 'input', 'residual'])}: {text}"
    return text


def _any_statements(c: Chooser, depth: int, n: int) -> str:
    return c.pick(["; ", "\n", " ;\n", "\r\n"]).join(_any_statement(c, depth) for _ in range(n))


MUTATION_CHARS = list("{};:=x0123456789-+. \n#\t\rabz_\x00é\ufeff") + ["\r\n", "9" * 40, "input"]


def mutate(c: Chooser, text: str, n: int) -> str:
    chars = list(text)
    for _ in range(n):
        if not chars:
            break
        i = c.int(0, len(chars) - 1)
        op = c.pick(["delete", "insert", "replace", "duplicate"])
        if op == "delete":
            del chars[i]
        elif op == "insert":
            chars.insert(i, c.pick(MUTATION_CHARS))
        elif op == "replace":
            chars[i] = c.pick(MUTATION_CHARS)
        else:
            j = c.int(i, min(len(chars), i + 20))
            chars[i:i] = chars[i:j]
    return "".join(chars)


def any_program(c: Chooser) -> str:
    """Text for the front end: mostly nearly-valid programs, sometimes mangled."""
    if c.coin(30):
        text = network(c)  # a valid network, to be mutated into an almost-valid one
    else:
        head = f"input {c.int(1, 12)}x{c.int(1, 12)}x{c.int(1, 3)}" if c.coin(85) else ""
        if c.coin(20):   # a definition for the statements to use (or misuse)
            head += f"\ndef blk f k=3 {{ {_any_statements(c, 1, c.int(0, 3))}; conv f k padding=same }}"
        text = head + c.pick(["\n", "; "]) + _any_statements(c, 0, c.int(0, 8))
    if c.coin(10):
        text = "\ufeff" + text
    if c.coin(15):
        text += f"  # {c.pick(['comment', '{', '}', 'é'])}"
    if c.coin(40):
        text = mutate(c, text, c.int(1, 4))
    return text


# --- valid networks --------------------------------------------------------------------

def shape_after(shape, statements: str):
    """The output shape after `statements` on an input of `shape` ((h, w, c) or (n,)),
    by the registry's own rules; None when cnnc refuses them."""
    if len(shape) == 3:
        head = "input {}x{}x{}".format(*shape)
    else:
        head = f"input 1x1x{shape[0]}; flatten"
    if _GENERATING["third edition"]:
        head += "\n" + DEFINITIONS
    try:
        return cnnc.parse(f"{head}\n{statements}").output_shape
    except cnnc.CnncError:
        return None


def _act(c: Chooser) -> str:
    return c.pick(ACTIVATION_NAMES)


def _conv_options(c, shape, f) -> str:
    """Sometimes a dilation, groups or no bias (the second edition's conv)."""
    if not _GENERATING["second edition"]:
        return ""
    opts = []
    if c.coin(15):
        opts.append("dilation=2")
    if c.coin(15):
        g = c.pick([d for d in range(1, 5) if shape[2] % d == 0 and f % d == 0])
        opts.append(f"groups={g}")
    if c.coin(15):
        opts.append("bias=false")
    return "".join(" " + o for o in opts)


def _conv(c, shape, keep=False):
    """keep: the spatial size stays (padding=same, stride 1), as concat branches need."""
    if len(shape) != 3:
        return None
    f = shape[2] if keep == "all" else c.int(1, 4)
    k = c.pick(["1", "3", "2x1", "1x3", "2"])
    act = f" {_act(c)}" if c.coin(60) else ""
    if keep:
        return f"conv {f} {k} padding=same{_conv_options(c, shape, f)}{act}"
    pad = c.pick(["valid", "same", "1"])
    stride = c.pick(["1", "1", "2", "2x1"])
    return f"conv {f} {k} stride={stride} padding={pad}{_conv_options(c, shape, f)}{act}"


def _depthwise(kind):
    """dwconv K and sepconv F K: multiplier, padding, stride, an activation."""
    def make(c, shape, keep=False):
        if len(shape) != 3 or (keep == "all" and kind == "sepconv"):
            return None
        head = "dwconv" if kind == "dwconv" else f"sepconv {c.int(1, 4)}"
        m = 1 if keep == "all" else c.int(1, 2)
        pad = "same" if keep else c.pick(["valid", "same", "1"])
        stride = "1" if keep else c.pick(["1", "2"])
        act = f" {_act(c)}" if c.coin(50) else ""
        return f"{head} {c.pick(['3', '1', '2x1'])} multiplier={m} stride={stride} padding={pad}{act}"
    return make


def _grows(c, shape, keep=False):
    """deconv, upsample and zeropad: the image grows."""
    if len(shape) != 3 or keep:
        return None
    return c.pick([f"deconv {c.int(1, 3)} {c.pick(['2', '3', '1x2'])} stride={c.pick(['1', '2'])} "
                   f"padding={c.pick(['valid', 'same'])}" + (f" {_act(c)}" if c.coin(50) else ""),
                   f"upsample {c.pick(['2', '2x1', '1x2'])} mode={c.pick(['nearest', 'bilinear'])}",
                   f"zeropad {c.pick(['1', '1x0', '0x2'])}", f"zeropad top={c.int(0, 2)} right={c.int(0, 1)}"])


def _scale(c, shape, depth, keep=False):
    """Squeeze-and-excitation: the image times a gate of one value per channel."""
    if len(shape) != 3 or depth >= 3:
        return None
    return f"scale {{ {c.pick(['globalpool', 'globalmaxpool'])}; dense {c.int(1, 3)} relu; dense {shape[2]} " \
           f"{c.pick(['sigmoid', 'hard_sigmoid'])} }}"


def _pool(kind):
    def make(c, shape, keep=False):
        if len(shape) != 3:
            return None
        k = c.pick(["2", "3", "2x1", "1"])
        if keep:
            return f"{kind} {k} stride=1 padding=same"
        pad = c.pick(["valid", "same", "1"])
        stride = c.pick(["", " stride=1", " stride=2", " stride=2x1"])
        return f"{kind} {k}{stride} padding={pad}"
    return make


def _block_body(c, shape, depth, keep, n_max=3) -> str:
    return "; ".join(_statements(c, shape, depth + 1, keep, c.int(0, n_max))[0])


def _residual(c, shape, depth, keep=False):
    """A residual of shape-keeping statements (views, activations, nested residuals,
    or nothing at all), or any block with a shortcut that reaches the same shape."""
    if depth >= 3:
        return None
    if c.coin(65):
        return "residual { " + _block_body(c, shape, depth, "all") + " }"
    body = _block_body(c, shape, depth, keep)
    out = shape_after(shape, body)
    # the shortcut: the block's own statements again (other weights), or a fresh attempt
    for attempt in range(3):
        shortcut = body if attempt == 2 else _block_body(c, shape, depth, keep)
        if shape_after(shape, shortcut) == out:
            return f"residual {{ {body} }} shortcut {{ {shortcut} }}"
    return None


def _concat(c, shape, depth, keep=False):
    """Branches that keep height and width: empty ones (the input itself, once or many
    times), views, convs, pools, nested concats and residuals."""
    if depth >= 3 or keep == "all":
        return None
    branches = []
    for _ in range(c.int(1, 4)):
        if c.coin(35):
            branches.append(c.pick(["", "", "dropout 0.5", "linear"]))  # identity branches
        elif depth < 2 and c.coin(15):
            branches.append(_concat(c, shape, depth + 1, keep))        # a concat of concats
        else:
            branches.append(_block_body(c, shape, depth, True, 2))
    if c.coin(20):
        branches.append(branches[c.int(0, len(branches) - 1)])  # the same branch again
    return "concat { " + " ".join(f"branch {{ {b} }}" for b in branches) + " }"


def _repeat(c, shape, depth, keep=False):
    if depth >= 3:
        return None
    return f"repeat {c.int(1, 3)} {{ {_block_body(c, shape, depth, 'all', 2)} }}"


# The definitions every third-edition network starts with (uses: `_use`): parameters in
# expressions, a default, an activation as a parameter, labels and joins inside a body, a
# use inside a definition, a repeat whose count is a parameter.
DEFINITIONS = """def unit f k=3 act=relu { conv f k padding=same act; batchnorm }
def twin f { a: conv f 1; b: conv f*2-f 1 from=a; add a b }
def gate c r=2 { globalpool; dense max(1, c//r) relu; dense c sigmoid }
def stack f n=2 { repeat n { unit f k=1 act=linear } }
def wide f { unit f; u: unit max(f-1, 1) k=1 from=input_of_wide; concat u unit_of_wide }"""
# `wide` reads names of the program (passed nowhere): it is never used; it checks that an
# unused definition costs nothing


def _use(c, shape, depth, keep=False):
    """A use of one of DEFINITIONS, alone, labelled, inside a block or a repeat."""
    if len(shape) != 3 or keep == "all" and c.coin(50):
        return None
    f = shape[2] if keep == "all" else c.int(1, 4)
    text = c.pick([f"unit {f}", f"unit {f} k=1", f"unit {f} act={_act(c)}", f"twin {f}", f"stack {f}",
                   f"stack {f} n={c.int(1, 3)}", f"scale {{ gate {shape[2]} }}", f"scale {{ gate {shape[2]} r=1 }}"])
    if c.coin(25) and not text.startswith("scale"):
        text = f"{_name(c)}: {text}"
    if c.coin(15):
        text = f"repeat {c.int(1, 2)} {{ {text} }}" if (keep == "all" or text.startswith("scale")) else text
    return text


def _name(c) -> str:
    _GENERATING["names"] += 1
    return f"n{_GENERATING['names']}"


def _joins(c, shape, depth, keep=False):
    """Named joins: branches that read the snippet's start by name and meet in an add, a
    concat or a multiply (a gate too); an add { branch } block; a scaled residual."""
    if depth >= 3:
        return None
    start = _name(c)
    first = f"{start}: {c.pick(['linear', 'dropout 0.5'])}"
    kind = c.pick(["add", "concat", "multiply", "gate", "add block", "scaled"])
    if kind in ("add", "multiply", "concat"):
        names, parts = [start], [first]
        for _ in range(c.int(1, 3) if kind != "multiply" else 1):
            body = _statements(c, shape, depth + 1, "all" if kind != "concat" else True, c.int(1, 2))[0]
            if not body:
                continue
            n = _name(c)
            body[0] = f"{body[0]} from={start}"
            body[-1] = f"{n}: {body[-1]}"
            parts += body
            names.append(n)
        if len(names) < 2:
            return None
        if c.coin(30):
            names.reverse()
        return "; ".join(parts + [f"{kind} {' '.join(names)}"])
    if kind == "gate":
        if len(shape) != 3:
            return None
        g = _name(c)
        return f"{first}; {g}: {c.pick(['globalpool', 'globalmaxpool'])}; dense {shape[2]} sigmoid; " \
               f"multiply {c.pick([f'{start} {g}', f'{g} {start}'])}"
    if kind == "add block":
        branches = [c.pick(["", "relu"])] + ["; ".join(_statements(c, shape, depth + 1, "all", 2)[0])
                                             for _ in range(c.int(1, 2))]
        return "add { " + " ".join(f"branch {{ {b} }}" for b in branches) + " }"
    return f"residual scale={c.pick(['0.17', '0.5', '-1', '2'])} {{ {_block_body(c, shape, depth, 'all')} }}"


# Keywords the table below writes itself; any other statement of the registry (a kind
# added later) is tried with arguments from a small vocabulary until one is valid.
WRITTEN = {"conv", "pool", "avgpool", "globalpool", "flatten", "dense", "batchnorm", "dropout", "input",
           "dwconv", "sepconv", "deconv", "upsample", "zeropad", "globalmaxpool", "rescale", "add", "concat",
           "multiply", *ACTIVATION_NAMES, "layernorm", "layerscale", "normalize", "crop"}
EXCLUDED: set = set()  # kinds a test leaves out (e.g. those a backend does not lower yet)
ARG_WORDS = ["1", "2", "3", "2x1", "1x2", "0.5", "same", "valid", "relu", "stride=2", "padding=same", "padding=1"]


def _other_kind(c, shape, depth, keep=False):
    others = [k for k in STATEMENTS if k not in WRITTEN and k not in EXCLUDED]
    if not others:
        return None
    kind = c.pick(others)
    for _ in range(6):
        text = " ".join([kind] + [c.pick(ARG_WORDS) for _ in range(c.int(0, 3))])
        if shape_after(shape, text) is not None:
            return text
    return None


NETWORK_STATEMENTS = {
    "conv": lambda c, s, d, keep: _conv(c, s, keep),
    "pool": lambda c, s, d, keep: _pool("pool")(c, s, keep),
    "avgpool": lambda c, s, d, keep: _pool("avgpool")(c, s, keep),
    "activation": lambda c, s, d, keep: _act(c),
    "batchnorm": lambda c, s, d, keep: c.pick(["batchnorm", "batchnorm eps=0.01"] + (
        ["batchnorm scale=false", "batchnorm center=false"] if _GENERATING["second edition"] else [])),
    "dwconv": lambda c, s, d, keep: _depthwise("dwconv")(c, s, keep),
    "sepconv": lambda c, s, d, keep: _depthwise("sepconv")(c, s, keep),
    "deconv, upsample, zeropad": lambda c, s, d, keep: _grows(c, s, keep),
    "globalmaxpool": lambda c, s, d, keep: None if keep else "globalmaxpool",
    "rescale": lambda c, s, d, keep: c.pick(["rescale 0.5", "rescale -2 offset=1", "rescale 0.00392156862745098"]),
    "scale": lambda c, s, d, keep: _scale(c, s, d, keep),
    "dropout": lambda c, s, d, keep: c.pick(["dropout 0.5", "dropout 0"]),
    "flatten": lambda c, s, d, keep: None if keep else "flatten",
    "globalpool": lambda c, s, d, keep: None if keep else "globalpool",
    "dense": lambda c, s, d, keep: None if keep else f"dense {c.int(1, 6)}" + (f" {_act(c)}" if c.coin(60) else ""),
    "residual": lambda c, s, d, keep: _residual(c, s, d, keep),
    "concat": lambda c, s, d, keep: _concat(c, s, d, keep),
    "repeat": lambda c, s, d, keep: _repeat(c, s, d, keep),
    "other kinds": _other_kind,
    "third edition": lambda c, s, d, keep: c.pick([
        "layernorm", "layernorm eps=1e-5", "layerscale", "layerscale 0.5", "normalize", "normalize mean=0.5 var=2",
        "leaky_relu slope=0.01", "elu alpha=0.5"] + ([] if keep or len(s) != 3 else
                                                   ["crop 1", "crop top=1 right=2", "crop 1x0"])),
    "use of a definition": lambda c, s, d, keep: _use(c, s, d, keep),
    "named joins": lambda c, s, d, keep: _joins(c, s, d, keep),
}
THIRD_EDITION = ("use of a definition", "named joins")


# The first edition's statements (what every backend lowers since the start); the
# others are the second edition's and, through `_other_kind`, any kind added later.
FIRST_EDITION = ("conv", "pool", "avgpool", "activation", "batchnorm", "dropout", "flatten", "globalpool",
                 "dense", "residual", "concat", "repeat")
_GENERATING = {"second edition": True, "third edition": False, "names": 0}


def _statements(c, shape, depth, keep, n):
    """Up to `n` statements valid on `shape`: (texts, shape after them).

    keep: False (anything), True (height and width stay), "all" (the whole shape stays)."""
    out = []
    for _ in range(n):
        for _attempt in range(4):
            names = [n for n in NETWORK_STATEMENTS if n not in THIRD_EDITION or _GENERATING["third edition"]] \
                if _GENERATING["second edition"] else FIRST_EDITION
            text = NETWORK_STATEMENTS[c.pick(names)](c, shape, depth, keep)
            if text is None:
                continue
            new = shape_after(shape, text)
            if new is None or (keep == "all" and new != shape) or \
                    (keep and (len(new) != len(shape) or new[:2] != shape[:2])):
                continue
            if len(new) == 3 and new[0] * new[1] * new[2] > 400:
                continue  # small tensors keep the Triton interpreter quick
            out.append(text)
            shape = new
            break
    return out, shape


def network(c: Chooser, max_statements: int = 5, second_edition: bool = True, third_edition: bool = True) -> str:
    """A valid program on a small input; with `second_edition=False`, of the first
    edition's statements only (what every backend lowers); with `third_edition=False`,
    without definitions and named joins."""
    _GENERATING["second edition"] = second_edition
    _GENERATING["third edition"] = second_edition and third_edition and c.coin(50)
    _GENERATING["names"] = 0
    try:
        text = _network(c, max_statements)
        if _GENERATING["third edition"]:   # after the input, before their uses
            first, _, rest = text.partition("\n")
            text = f"{first}\n{DEFINITIONS}\n{rest}"
        return text
    finally:
        _GENERATING["second edition"], _GENERATING["third edition"] = True, False


def _network(c: Chooser, max_statements: int) -> str:
    h, w, ch = c.int(1, 6), c.int(1, 6), c.int(1, 3)
    texts, shape = _statements(c, (h, w, ch), 0, False, c.int(1, max_statements))
    if c.coin(35):  # a classifier's head
        if len(shape) == 3:
            texts.append(c.pick(["flatten", "globalpool"]))
        texts.append(f"dense {c.int(1, 5)} {c.pick(['softmax', 'softmax', _act(c)])}")
    return "\n".join([f"input {h}x{w}x{ch}"] + texts)
