"""Compile a program into a Python module (and its weights file beside it)."""

from __future__ import annotations

from ..cli import input_shape_arg


def add_arguments(p) -> None:
    p.add_argument("file", metavar="FILE", help="a .cnn program")
    p.add_argument("--backend", choices=("numpy", "triton"), default="numpy")
    p.add_argument("-o", "--output", metavar="OUT.py", help="the module to write (default: FILE's stem .py here)")
    p.add_argument("--weights", metavar="W", help="weights to bake in (.npz or .safetensors); default: fresh (seeded) initial weights")
    p.add_argument("--seed", type=int, default=0, help="seed for the initial weights (default 0)")
    p.add_argument("--input", type=input_shape_arg, metavar="HxWxC", help="the input shape, if the program has none")


def run(args) -> int:
    from ..cli import load_network
    from ..runtime.export import write_module

    net = load_network(args.file, args.input)
    return write_module(net, args)
