"""How fast does the language server re-check a program?  python benchmarks/lsp_speed.py [--runs N]

1. In-process, on examples/keras/resnet50.cnn (174 layers) and densenet121.cnn (426)
   after a one-character edit: the analysis a change costs the server (parse, graph
   with every shape, statement spans: cnnc/lsp/document.py), then what the editor asks
   next (diagnostics, the inlay hints of a screen of 60 lines, a hover). Goal: well
   under 50 ms for ResNet50.
2. Over the wire: `cnnc lsp` as a process, the document opened, then edits sent one at
   a time, each timed from the didChange notification to its publishDiagnostics (JSON
   both ways included; the server re-checks at once when its last analysis took under
   QUICK_S = 100 ms, else it waits 100 ms for more keystrokes).

Prints medians (and best) in ms, wall and CPU (process time, which hardly moves when
other jobs load the machine); results go in BENCHMARKS.md, "language server".
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _edited(text: str, i: int) -> str:
    """The text with its first conv's filter count changed (a different edit each run)."""
    import re

    return re.sub(r"conv (\d+)", lambda m: f"conv {int(m.group(1)) + 1 + i % 7}", text, count=1)


def in_process(path: Path, runs: int) -> dict:
    from cnnc.lsp.document import Analysis, diagnostic_range
    from cnnc.lsp.hover import hover, inlay_hints

    text = path.read_text()
    Analysis(text)   # imports and caches warm
    check, ask = [], []
    check_cpu = []
    for i in range(runs):
        edited = _edited(text, i)
        t, c = time.perf_counter(), time.process_time()
        a = Analysis(edited, str(path))
        check.append((time.perf_counter() - t) * 1e3)
        check_cpu.append((time.process_time() - c) * 1e3)
        t = time.perf_counter()
        for d in a.diagnostics:
            diagnostic_range(d, a)
        inlay_hints(a, 1, 60)
        hover(a, 10, 2)
        ask.append((time.perf_counter() - t) * 1e3)
    return {"layers": len(Analysis(text).net.layers), "check_ms": statistics.median(check), "check_best_ms": min(check),
            "check_cpu_ms": statistics.median(check_cpu), "requests_ms": statistics.median(ask)}


class _Wire:
    def __init__(self):
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen([sys.executable, "-m", "cnnc", "lsp"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
        self.id = 0

    def send(self, msg: dict) -> None:
        body = json.dumps(msg).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def read(self) -> dict:
        length = 0
        while True:
            line = self.proc.stdout.readline().strip()
            if not line:
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        return json.loads(self.proc.stdout.read(length))

    def request(self, method: str, params) -> dict:
        self.id += 1
        self.send({"jsonrpc": "2.0", "id": self.id, "method": method, "params": params})
        while True:
            msg = self.read()
            if msg.get("id") == self.id:
                return msg

    def wait(self, method: str, version: int) -> dict:
        while True:
            msg = self.read()
            if msg.get("method") == method and msg["params"].get("version") == version:
                return msg


def over_the_wire(path: Path, runs: int) -> dict:
    text = path.read_text()
    w = _Wire()
    try:
        w.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
        w.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        uri = path.resolve().as_uri()
        w.send({"jsonrpc": "2.0", "method": "textDocument/didOpen",
                "params": {"textDocument": {"uri": uri, "languageId": "cnn", "version": 1, "text": text}}})
        w.wait("textDocument/publishDiagnostics", 1)
        times = []
        for i in range(runs):
            version = i + 2
            t = time.perf_counter()
            w.send({"jsonrpc": "2.0", "method": "textDocument/didChange",
                    "params": {"textDocument": {"uri": uri, "version": version},
                               "contentChanges": [{"text": _edited(text, i)}]}})
            w.wait("textDocument/publishDiagnostics", version)
            times.append((time.perf_counter() - t) * 1e3)
        w.request("shutdown", None)
        w.send({"jsonrpc": "2.0", "method": "exit"})
        w.proc.wait(30)
    finally:
        if w.proc.poll() is None:
            w.proc.kill()
    return {"change_to_diagnostics_ms": statistics.median(times), "best_ms": min(times)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    for name in ("resnet50", "densenet121"):
        path = ROOT / "examples" / "keras" / f"{name}.cnn"
        r = in_process(path, args.runs)
        print(f"{name} ({r['layers']} layers), in-process re-check after an edit: median {r['check_ms']:.1f} ms "
              f"(best {r['check_best_ms']:.1f}, CPU {r['check_cpu_ms']:.1f}); diagnostics + 60 lines of inlay "
              f"hints + a hover: {r['requests_ms']:.1f} ms")
        w = over_the_wire(path, args.runs)
        print(f"{name}, cnnc lsp over stdio, didChange -> publishDiagnostics: "
              f"median {w['change_to_diagnostics_ms']:.1f} ms (best {w['best_ms']:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
