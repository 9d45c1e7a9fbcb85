"""A small Language Server Protocol client for the tests (not a test module itself).

It starts a server process, speaks JSON-RPC over its stdin/stdout with Content-Length
framing, and keeps the transcript (every message each way) for docs/editors.md. A
reader thread files responses by id and notifications by method, so a test waits on
what it expects with a timeout: a server that hangs fails the test instead of hanging it.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time

from conftest import ROOT

TIMEOUT = 30


class ServerGone(Exception):
    pass


class Client:
    def __init__(self, command, cwd=None, env=None):
        e = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     cwd=cwd or ROOT, env=e)
        self.next_id = 0
        self.responses: dict = {}
        self.notifications: "queue.Queue" = queue.Queue()
        self.transcript: list = []   # ("->" or "<-", message)
        self.lock = threading.Condition()
        self.closed = False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.stderr_lines: list = []
        threading.Thread(target=self._drain_stderr, daemon=True).start()

    # -- wire ---------------------------------------------------------------------
    def send(self, message: dict) -> None:
        self.transcript.append(("->", message))
        self.send_raw(json.dumps(message).encode("utf-8"))

    def send_raw(self, body: bytes) -> None:
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def _read(self) -> None:
        out = self.proc.stdout
        try:
            while True:
                length = None
                while True:
                    line = out.readline()
                    if not line:
                        raise EOFError
                    line = line.strip()
                    if not line:
                        break
                    name, _, value = line.decode("ascii").partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                body = out.read(length)
                message = json.loads(body)
                self.transcript.append(("<-", message))
                with self.lock:
                    if "id" in message and "method" not in message:
                        self.responses[message["id"]] = message
                    elif "id" in message:   # a request from the server (e.g. workDoneProgress): accept it
                        self.send({"jsonrpc": "2.0", "id": message["id"], "result": None})
                    else:
                        self.notifications.put(message)
                    self.lock.notify_all()
        except (EOFError, ValueError, OSError):
            with self.lock:
                self.closed = True
                self.lock.notify_all()

    def _drain_stderr(self) -> None:
        for line in self.proc.stderr:
            self.stderr_lines.append(line.decode("utf-8", "replace"))

    # -- requests and notifications ---------------------------------------------------
    def request(self, method: str, params=None, timeout: float = TIMEOUT):
        """The response's result (AssertionError with the error when it failed)."""
        response = self.request_raw(method, params, timeout)
        assert "error" not in response, response["error"]
        return response.get("result")

    def request_raw(self, method: str, params=None, timeout: float = TIMEOUT) -> dict:
        self.next_id += 1
        rid = self.next_id
        self.send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        deadline = time.monotonic() + timeout
        with self.lock:
            while rid not in self.responses:
                left = deadline - time.monotonic()
                if self.closed:
                    raise ServerGone(f"the server exited before answering {method}: {''.join(self.stderr_lines)}")
                if left <= 0:
                    raise TimeoutError(f"no answer to {method} in {timeout} s")
                self.lock.wait(left)
            return self.responses.pop(rid)

    def notify(self, method: str, params=None) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def wait_for(self, method: str, predicate=lambda p: True, timeout: float = TIMEOUT) -> dict:
        """The params of the next notification `method` for which predicate(params) holds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {method} in {timeout} s")
            try:
                message = self.notifications.get(timeout=left)
            except queue.Empty:
                continue
            if message.get("method") == method and predicate(message.get("params")):
                return message["params"]

    # -- a session ----------------------------------------------------------------------
    def initialize(self, capabilities=None) -> dict:
        result = self.request("initialize", {"processId": os.getpid(), "rootUri": None,
                                             "capabilities": capabilities or {}})
        self.notify("initialized", {})
        return result

    def open(self, uri: str, text: str, version: int = 1) -> dict:
        """Opens a document; the diagnostics it gets."""
        self.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "cnn", "version": version,
                                                              "text": text}})
        return self.wait_for("textDocument/publishDiagnostics", lambda p: p["uri"] == uri)

    def shutdown(self, timeout: float = TIMEOUT) -> int:
        """shutdown, exit, and the exit code."""
        self.request("shutdown", None, timeout)
        self.notify("exit")
        try:
            return self.proc.wait(timeout)
        finally:
            self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass
