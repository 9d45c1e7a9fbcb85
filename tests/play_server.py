"""A playground server in a thread, for the tests, and requests to it with any headers."""

from __future__ import annotations

import base64
import http.client
import json
import os
import threading

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LENET = os.path.join(ROOT, "examples", "lenet.cnn")
# a program of the third edition: a definition, labelled uses, from= and a join of names
THIRD = """input 16x16x1
def cbr f k=3 {
  conv f k padding=same; batchnorm; relu
}
a: cbr 4
b: cbr 4 from=a k=5
pool 2 from=a
up: upsample 2
add b up
globalpool
dense 10 softmax
"""


class Running:
    """`with Running(path) as s:` a PlayServer on a free port; s.post/s.get answer (status, json)."""

    def __init__(self, path=None):
        from cnnc.play.server import serve
        from cnnc.play.session import Session

        self.server = serve(Session(path), 0)
        self.port = self.server.port
        self.token = self.server.token

    def __enter__(self):
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def request(self, method, path, body=None, headers=None, token=True, raw=None):
        h = {"Host": f"127.0.0.1:{self.port}"}
        if token:
            h["X-Cnnc-Token"] = self.token
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        if data is not None:
            h["Content-Length"] = str(len(data))
        h.update(headers or {})
        h = {k: v for k, v in h.items() if v is not None}
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for k, v in h.items():
                conn.putheader(k, v)
            conn.endheaders()
            if data is not None:
                conn.send(data)
            r = conn.getresponse()
            payload = r.read()
            try:
                return r.status, json.loads(payload)
            except ValueError:
                return r.status, payload
        finally:
            conn.close()

    def post(self, path, body, **kw):
        return self.request("POST", path, body, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)


def image_payload(x) -> dict:
    """An (H, W, C) array as the page sends it: float32 little-endian, base64."""
    x = np.asarray(x, dtype="<f4")
    return {"shape": list(x.shape), "data": base64.b64encode(x.tobytes()).decode()}


def decoded_maps(layer) -> np.ndarray:
    """A layer's maps from an answer, back in (H, W, channels) floats (within 1/255 of each channel's range)."""
    h, w, _ = layer["shape"]
    k = layer["channels"]
    q = np.frombuffer(base64.b64decode(layer["data"]), np.uint8).reshape(k, h, w).astype(np.float64)
    lo, hi = np.array(layer["min"]), np.array(layer["max"])
    return np.moveaxis(lo[:, None, None] + q / 255.0 * (hi - lo)[:, None, None], 0, -1)


def digit(seed: int = 3, size: int = 28) -> np.ndarray:
    """A handwritten-looking 3 (two arcs and a spine) of size x size, values in [0, 1]."""
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1)
    d1 = np.abs(np.hypot(yy - 0.32, xx - 0.5) - 0.2)
    d2 = np.abs(np.hypot(yy - 0.68, xx - 0.5) - 0.2)
    img = np.exp(-(np.minimum(d1, d2) / 0.05) ** 2) * (xx > 0.42 - 0.01 * seed)
    return img[..., None].astype(np.float32)
