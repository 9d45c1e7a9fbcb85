"""One line that names the machine a measured figure comes from (printed by the digits
scripts and benchmarks/bridges_train.py), so that every figure in the docs says where
it was measured."""

from __future__ import annotations

import os
import platform


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe(device=None, threads=None) -> str:
    """`machine: <CPU> (N cores, load average L), <GPU or no GPU>; Python, numpy, torch versions; training on DEVICE, T thread(s)`."""
    import numpy
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    where = f"; training on {device}" if device is not None else ""
    if threads is not None:
        where += f", {threads} torch thread(s)"
    try:
        load = f", load average {os.getloadavg()[0]:.1f}"  # other work on the machine slows wall times
    except OSError:
        load = ""
    return (f"machine: {cpu_model()} ({os.cpu_count()} cores{load}), {gpu}; Python {platform.python_version()}, "
            f"numpy {numpy.__version__}, torch {torch.__version__}{where}")
