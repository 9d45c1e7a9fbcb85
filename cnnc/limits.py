"""The language's limits: how large a program, a size and a tensor may be.

Each is checked where the program is read, in the program's own terms, so that what
`cnnc shapes` accepts every later stage (compile, check, the bridges) can build:

  MAX_LAYERS   layers a program may unroll to (repeats and uses of definitions included:
               each definition is sized once, so uses nested in uses are refused before
               anything is built); also the most layer statements and the most blocks a
               file may hold, counted while it is read
  MAX_DEPTH    blocks nested inside one another (a definition's blocks count where it is used)
  MAX_WORDS    words in one statement (no statement needs more than a handful)
  MAX_SIZE     any size or count written in a program or given as the input shape:
               filters, units, kernel, stride, padding, H, W, C (2^20: a million-sample
               signal as an Nx1x1 image still fits)
  MAX_VALUES   numbers in one tensor: a value between layers (for one image), a padded
               image, one weight tensor (2^40, about 10^12: 4 TiB of float32, more than
               any machine holds, and far from where sizes overflow 64-bit arithmetic, even
               times a batch). Below it, a network too large for this machine is an "out
               of memory" when it is compiled or run, not a program error: LeNet on a
               3000x3000 photo (a 9 GB dense kernel) is a network cnnc shapes can explain.

A program file is read only when it is a regular file of at most MAX_PROGRAM_BYTES
(256 MiB: a hundred thousand statements take a few MB), so /dev/zero or a FIFO given as
a program is refused instead of read forever.

Written numbers are compared by their digits before they are converted, so a
5000-digit number is "too large" rather than Python's int-conversion error.
"""

from __future__ import annotations

MAX_LAYERS = 100_000
MAX_DEPTH = 50
MAX_WORDS = 1_000
MAX_SIZE = 1 << 20
MAX_VALUES = 1 << 40
MAX_PROGRAM_BYTES = 256 << 20


def integer(text: str) -> "int | None":
    """A written integer (`32`, `+4`, `-2`, `007`) as an int, or None when it is not one.

    Numbers of more than 18 digits are clamped to (-)10^18, past every limit, so
    comparisons still say "too large" and nothing converts thousands of digits.
    """
    sign = -1 if text.startswith("-") else 1
    digits = text[1:] if text[:1] in "+-" else text
    if not digits or not all("0" <= ch <= "9" for ch in digits):
        return None
    digits = digits.lstrip("0") or "0"
    if len(digits) > 18:  # larger than every limit; int() of 5000 digits would raise
        return sign * 10**18
    return sign * int(digits)


def shown(text: str, width: int = 24) -> str:
    """`text` as an error message quotes it: a 5000-digit number or a megabyte-long word
    is abbreviated (`99999999…99999 (5000 characters)`), anything short is unchanged."""
    if len(text) <= width:
        return text
    half = (width - 1) // 2
    return f"{text[:half]}…{text[-half:]} ({len(text):,} characters)"


def count_of(dims) -> int:
    n = 1
    for d in dims:
        n *= d
    return n


def input_problem(dims) -> "str | None":
    """Why the input shape `dims` (H, W, C: positive ints) is refused, or None.
    One rule for the `input` statement, `--input HxWxC` and `cnnc.parse(..., input=)`."""
    if max(dims) > MAX_SIZE:
        return f"input sizes must be at most {MAX_SIZE:,} each, got {'x'.join(_number(d) for d in dims)}"
    if count_of(dims) > MAX_VALUES:
        return (f"the input {'x'.join(str(d) for d in dims)} holds {count_of(dims):,} numbers per image; "
                f"at most {MAX_VALUES:,} are allowed")
    return None


def _number(n: int) -> str:
    """`n` for a message, abbreviated when long (str() refuses ints past 4300 digits)."""
    try:
        return shown(str(n))
    except ValueError:
        return "(a number of thousands of digits)"
