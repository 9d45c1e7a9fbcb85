"""The pipeline's layers point one way: the library never imports the command line,
commands share code through commands/common.py (never through each other or cli.py),
and benchmarks use the library, not command modules."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PKG = os.path.join(ROOT, "cnnc")


def _imports(path: str) -> set:
    """The cnnc modules a file imports (absolute names), at any depth of the file."""
    rel = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
    package = rel if rel.endswith("__init__") else rel.rsplit(".", 1)[0]
    package = package.removesuffix(".__init__")
    found = set()
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.add(mod)
            found.update(f"{mod}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module" and node.args \
                and isinstance(node.args[0], ast.Constant):
            found.add(node.args[0].value)
    return {m for m in found if m.startswith("cnnc")}


def _files(folder: str):
    for dirpath, _, names in os.walk(folder):
        for n in names:
            if n.endswith(".py"):
                yield os.path.join(dirpath, n)


def test_the_library_never_imports_the_cli_or_a_command():
    for path in _files(PKG):
        rel = os.path.relpath(path, PKG)
        if rel in ("cli.py", "__main__.py") or rel.startswith("commands"):
            continue
        bad = {m for m in _imports(path) if m == "cnnc.cli" or m.startswith("cnnc.commands")}
        assert not bad, f"cnnc/{rel} imports {sorted(bad)}"


def test_commands_share_code_through_common_only():
    for path in _files(os.path.join(PKG, "commands")):
        name = os.path.basename(path)[:-3]
        for m in _imports(path):
            assert m != "cnnc.cli", f"commands/{name}.py imports cnnc.cli"
            if m.startswith("cnnc.commands.") and m.split(".")[2] not in ("common", name):
                raise AssertionError(f"commands/{name}.py imports {m}: move the shared code to the library")


def test_benchmarks_use_the_library_not_commands():
    for path in _files(os.path.join(ROOT, "benchmarks")):
        bad = {m for m in _imports(path) if m == "cnnc.cli" or m.startswith("cnnc.commands")}
        assert not bad, f"{os.path.relpath(path, ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("backend", ["numpy", "triton"])
def test_importing_and_compiling_never_loads_the_cli(backend):
    if backend == "triton":
        pytest.importorskip("torch")
        pytest.importorskip("triton")
    code = ("import sys, cnnc\n"
            f"m = cnnc.compile(cnnc.parse('input 8x8x1; conv 2 3x3; flatten; dense 2'), backend={backend!r})\n"
            "print(sorted(k for k in sys.modules if k == 'cnnc.cli' or k.startswith('cnnc.commands')))")
    env = dict(os.environ, TRITON_INTERPRET="1")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_each_backend_is_one_package():
    """A backend is one package: its policy, lowerings, module generator and the code only its
    modules carry (`carried/`). What lies directly in cnnc/backends/ and its carried/ is shared
    by every backend, so nothing there is named for one."""
    from cnnc.backends import BACKENDS
    from cnnc.backends.carried import MARKER

    base = os.path.join(PKG, "backends")
    for name in BACKENDS:
        for part in ("__init__.py", "policy.py", "lowerings.py", "module.py", os.path.join("carried", "__init__.py")):
            assert os.path.isfile(os.path.join(base, name, part)), f"cnnc/backends/{name}/{part} is missing"
    for folder in (base, os.path.join(base, "carried")):
        named = [f for f in os.listdir(folder) if f.endswith(".py") and f.startswith(tuple(BACKENDS))]
        assert not named, f"{os.path.relpath(folder, ROOT)} holds {named}: they belong in their backend's package"
    for path in _files(base):
        if os.path.basename(os.path.dirname(path)) == "carried" and not path.endswith("__init__.py"):
            with open(path, encoding="utf-8") as f:
                assert MARKER + "\n" in f.read(), f"{os.path.relpath(path, ROOT)} has no carried marker"


def test_the_triton_policy_loads_no_code_generator():
    """`cnnc shapes` plans with the Triton policy: importing it runs the package's __init__,
    which loads the code generator (and torch, triton) only when one of its exports is used."""
    code = ("import sys, cnnc.backends.triton.policy\n"
            "print(sorted(k for k in sys.modules if k.startswith('cnnc.backends.triton.')\n"
            "             or k.split('.')[0] in ('torch', 'triton', 'numpy')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "['cnnc.backends.triton.policy']"


def test_the_triton_package_exports_what_its_entry_module_defines():
    """The package's lazy exports (its __all__) are the entry module's."""
    def exported(path):
        for node in ast.parse(open(path, encoding="utf-8").read()).body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
                return ast.literal_eval(node.value)
        raise AssertionError(f"{path} has no __all__")

    folder = os.path.join(PKG, "backends", "triton")
    assert exported(os.path.join(folder, "__init__.py")) == exported(os.path.join(folder, "backend.py"))
