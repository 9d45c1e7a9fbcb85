"""The playground's HTTP server: the standard library's ThreadingHTTPServer on 127.0.0.1.

Who may drive it: a request is answered only when its Host is this server's own address
(127.0.0.1:PORT or localhost:PORT: a DNS-rebinding page has another), its Origin, when the
browser sends one, is that address too, and, for the page and every /api/ request, it
carries the session's token (a random 256-bit secret in the address `cnnc play` prints and
opens; the page sends it in the X-Cnnc-Token header, which no other origin can set without
a CORS preflight this server never grants). Only the page's own assets are served without
the token. Responses forbid framing, sniffing and referrers, and the page's Content
Security Policy allows nothing off this server.

What it accepts: JSON bodies (Content-Type application/json) of at most MAX_BODY bytes with
a Content-Length, read with a socket timeout. Program text is parsed, never executed.
Heavy work (a check, feature maps) runs at most WORKERS at a time; the page sends a
sequence number and a check that a newer one has overtaken is answered `superseded` without
being run, so typing fast never queues work. A request that fails in an unexpected way is
answered 500 with one line; the server goes on.

    GET  /?token=T          the page
    GET  /static/NAME       its assets (index.html, app.js, style.css, editor.bundle.js)
    GET  /api/session       the program opened, its file name, the limits
    POST /api/check         {text, batch, input, seq} -> the shape table, diagnostics, graph
    POST /api/featuremaps   {text, input, image, layers} -> each layer's maps, weights used
    POST /api/region        {text, input, layer, unit or pointer} -> the input pixels one unit sees
    POST /api/save          {text, name} -> the path written
    POST /api/train         {text, input, epochs} -> starts training; GET /api/train: its progress
"""

from __future__ import annotations

import hmac
import json
import secrets
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qs, urlsplit

from ..errors import UsageError

MAX_BODY = 32 << 20          # a 1024x1024 RGB image as base64 float32 is 17 MB
WORKERS = 2                  # checks and feature maps computed at once
WAIT_S = 30                  # how long a request waits for a worker before "busy"
READ_TIMEOUT_S = 30          # a client that stops sending mid-request is dropped
ASSETS = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
          "style.css": "text/css; charset=utf-8", "editor.bundle.js": "text/javascript; charset=utf-8"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'")


class Refused(Exception):
    """A request answered with an HTTP error status and a one-line message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class PlayServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True     # (on Linux this never lets two servers share a port)

    def __init__(self, session, port: int, token: "str | None" = None):
        from .training import Job

        self.session = session
        self.token = token or secrets.token_urlsafe(32)
        self.workers = threading.BoundedSemaphore(WORKERS)
        self.latest: dict = {}
        self.latest_lock = threading.Lock()
        self.job = Job()
        self.regions = None        # ((text, input), net, boxes) of the last /api/region
        self.regions_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), Handler)
        self.port = self.server_address[1]
        self.hosts = {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}
        self.origins = {f"http://{h}" for h in self.hosts}

    def handle_error(self, request, client_address) -> None:
        """A client that hung up before its answer (a page reloaded, a refused request's caller
        gone) is no error of the server's: nothing to print. Anything else, as the library does."""
        import sys

        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/?token={self.token}"


def serve(session, port: int):
    """A PlayServer bound to 127.0.0.1:port (0: any free port); UsageError when it is taken."""
    import errno

    try:
        return PlayServer(session, port)
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise UsageError(f"port {port} on 127.0.0.1 is taken (another cnnc play, or another server); "
                             f"choose another with --port P") from None
        if e.errno in (errno.EACCES, errno.EPERM):
            raise UsageError(f"port {port} may not be used here ({e.strerror}); choose another with --port P") \
                from None
        raise UsageError(f"cannot serve on 127.0.0.1:{port}: {e.strerror or e}") from None


def _asset(name: str) -> bytes:
    return resources.files("cnnc.play").joinpath("static", name).read_bytes()


class Handler(BaseHTTPRequestHandler):
    server: PlayServer
    server_version = "cnnc-play"
    timeout = READ_TIMEOUT_S     # a connection that sends nothing (or stops mid-request) is closed
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args) -> None:   # quiet: the terminal shows the address only
        pass

    # -- the checks every request passes ----------------------------------------------
    def _guard(self, token_from_query: bool = False, needs_token: bool = True) -> None:
        host = self.headers.get("Host", "")
        if host not in self.server.hosts:
            raise Refused(403, "this server answers requests for its own address only "
                               f"(http://127.0.0.1:{self.server.port}/)")
        origin = self.headers.get("Origin")
        if origin is not None and origin not in self.server.origins:
            raise Refused(403, "requests from other web pages are refused")
        if self.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
            raise Refused(403, "requests from other web pages are refused")
        if not needs_token:
            return
        if token_from_query:
            given = (parse_qs(urlsplit(self.path).query).get("token") or [""])[0]
        else:
            given = self.headers.get("X-Cnnc-Token", "")
        if not hmac.compare_digest(given.encode("utf-8", "replace"), self.server.token.encode()):
            raise Refused(403, "this page needs the address cnnc play printed (with its token)")

    def _body(self) -> dict:
        kind = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            raise Refused(415, "requests are JSON (Content-Type: application/json)")
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise Refused(411, "a request needs its Content-Length")
        if int(length) > MAX_BODY:
            self.close_connection = True
            raise Refused(413, f"the request is larger than {MAX_BODY:,} bytes")
        self.connection.settimeout(READ_TIMEOUT_S)
        data = self.rfile.read(int(length))
        if len(data) != int(length):
            self.close_connection = True
            raise Refused(400, "the request was cut short")
        try:
            body = json.loads(data)
        except (ValueError, RecursionError):
            raise Refused(400, "the request is not JSON") from None
        if not isinstance(body, dict):
            raise Refused(400, "the request is a JSON object")
        return body

    # -- answers -------------------------------------------------------------------------
    def _send(self, status: int, payload: bytes, content_type: str, cache: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-cache" if cache else "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.send_header("Content-Security-Policy", CSP)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _json(self, status: int, data: dict) -> None:
        self._send(status, json.dumps(data, allow_nan=False).encode("utf-8"), "application/json")

    def _answer(self, work) -> None:
        try:
            status, data = work()
            self._json(status, data)
        except Refused as e:
            self._json(e.status, {"error": str(e)})
        except (BrokenPipeError, ConnectionResetError):
            pass
        except TimeoutError:
            self.close_connection = True
        except Exception as e:   # a bug: one line for the page and the terminal, the server goes on
            print(f"cnnc play: internal error: {type(e).__name__}: {e}", file=sys.stderr)
            try:
                self._json(500, {"error": f"internal error: {type(e).__name__}: {str(e)[:300]} (a bug in cnnc)"})
            except OSError:
                pass

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        path = urlsplit(self.path).path

        def work():
            if path == "/" or path == "/index.html":
                self._guard(token_from_query=True)
                self._send(200, _asset("index.html"), ASSETS["index.html"])
                return None
            if path.startswith("/static/"):
                self._guard(needs_token=False)
                name = path[len("/static/"):]
                if name not in ASSETS:
                    raise Refused(404, "no such file")
                self._send(200, _asset(name), ASSETS[name], cache=True)
                return None
            self._guard()
            if path == "/api/session":
                return 200, self._session_info()
            if path == "/api/train":
                return 200, self.server.job.status()
            raise Refused(404, "no such page")

        self._answer_get(work)

    def _answer_get(self, work) -> None:
        try:
            result = work()
        except Refused as e:
            self._json(e.status, {"error": str(e)})
            return
        except (BrokenPipeError, ConnectionResetError):
            return
        if result is not None:
            self._json(*result)

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        routes = {"/api/check": self._check, "/api/featuremaps": self._featuremaps, "/api/save": self._save,
                  "/api/train": self._train, "/api/region": self._region}

        def work():
            self._guard()
            if path not in routes:
                raise Refused(404, "no such endpoint")
            return routes[path](self._body())

        self._answer(work)

    def do_PUT(self) -> None:
        self._json(405, {"error": "the playground takes GET and POST only"})

    do_DELETE = do_PATCH = do_OPTIONS = do_PUT

    # -- endpoints -------------------------------------------------------------------------
    def _session_info(self) -> dict:
        from .analysis import MAX_SHOWN_LAYERS
        from .featuremaps import MAX_IMAGE_VALUES
        from .session import MAX_PROGRAM_BYTES

        s = self.server.session
        return {"file": s.shown_name, "filename": s.filename, "text": s.text, "opened": s.path is not None,
                "limits": {"program_bytes": MAX_PROGRAM_BYTES, "request_bytes": MAX_BODY,
                           "image_values": MAX_IMAGE_VALUES, "layers_shown": MAX_SHOWN_LAYERS}}

    def _text(self, body) -> str:
        from .session import MAX_PROGRAM_BYTES

        text = body.get("text")
        if not isinstance(text, str):
            raise Refused(400, "'text' is the program, a string")
        if len(text) > MAX_PROGRAM_BYTES:
            raise Refused(413, f"the program is longer than {MAX_PROGRAM_BYTES:,} characters")
        return text

    def _worker(self):
        """A context that holds one of the WORKERS slots; Refused(503) after WAIT_S."""
        return _Slot(self.server.workers)

    def _newest(self, kind: str, seq) -> bool:
        with self.server.latest_lock:
            return self.server.latest.get(kind) == seq

    def _arrive(self, kind: str, body) -> object:
        seq = body.get("seq")
        if seq is not None and (type(seq) is not int):
            raise Refused(400, "'seq' is an integer")
        with self.server.latest_lock:
            self.server.latest[kind] = seq
        return seq

    def _check(self, body) -> tuple:
        from .analysis import check
        from .training import fits, missing_packages

        text = self._text(body)
        batch = _batch(body.get("batch"))
        shape = _input(body.get("input"))
        seq = self._arrive("check", body)
        with self._worker():
            if seq is not None and not self._newest("check", seq):
                return 200, {"superseded": True, "seq": seq}
            s = self.server.session
            data = check(text, s.filename, batch, shape)
            if data.get("ok"):
                from .. import parse

                net = parse(text, input=shape, filename=s.filename)
                why = fits(net) or missing_packages()
                data["train"] = {"fits": why is None, "why": why}
        data["seq"] = seq
        return 200, data

    def _featuremaps(self, body) -> tuple:
        from .. import parse
        from ..errors import CnncError
        from ..layers import Role
        from . import featuremaps as F
        from .analysis import MAX_SHOWN_LAYERS

        text = self._text(body)
        shape = _input(body.get("input"))
        seq = self._arrive("featuremaps", body)
        s = self.server.session
        with self._worker():
            if seq is not None and not self._newest("featuremaps", seq):
                return 200, {"superseded": True, "seq": seq}
            try:
                net = parse(text, input=shape, filename=s.filename)
            except (CnncError, ValueError, OverflowError, RecursionError):
                raise Refused(422, "the program has errors: fix them to see feature maps") from None
            try:
                x = F.decode_image(body.get("image"), net.input_shape)
            except F.ImageError as e:
                raise Refused(422, str(e)) from None
            wanted = body.get("layers")
            names = [n.name for n in net.nodes if n.spec.role is not Role.INPUT]
            if wanted is not None:
                if not (isinstance(wanted, list) and all(isinstance(w, str) for w in wanted)):
                    raise Refused(400, "'layers' is a list of layer names")
                unknown = [w for w in wanted if w not in names]
                if unknown:
                    raise Refused(422, f"no layer '{unknown[0][:100]}' in this program")
                names = [n for n in names if n in set(wanted)]
            if len(net.layers) > MAX_SHOWN_LAYERS:
                raise Refused(422, f"this network has {len(net.layers):,} layers; the playground shows the "
                                   f"feature maps of networks of at most {MAX_SHOWN_LAYERS:,}")
            macs, values = F.cost(net)
            if macs > F.MAX_MACS or values > F.MAX_VALUES:
                raise Refused(422, f"feature maps of this network take {macs:,} multiply-adds and hold "
                                   f"{values:,} values for one image; the playground computes at most "
                                   f"{F.MAX_MACS:,} and {F.MAX_VALUES:,} (try a smaller input)")
            names, omitted = _within(net, names, F)
            model, info = s.model_for(F.observed(net), text, shape)
            layers = F.compute(model, x, names)
        return 200, {"seq": seq, "weights": info, "layers": layers, "omitted": omitted}

    def _region(self, body) -> tuple:
        """The box of one unit of a layer (regions.py), from every unit's boxes, which are kept
        for the last program asked about: hovering over a feature map asks once per unit."""
        from .. import parse
        from ..errors import CnncError
        from . import regions as R

        text = self._text(body)
        shape = _input(body.get("input"))
        layer = body.get("layer")
        if not isinstance(layer, str):
            raise Refused(400, "'layer' is a layer's name")
        unit, pointer = _pair(body, "unit", int), _pair(body, "pointer", (int, float))
        key = (text, shape)
        with self._worker():
            with self.server.regions_lock:
                kept = self.server.regions
            if kept is None or kept[0] != key:
                try:
                    net = parse(text, input=shape, filename=self.server.session.filename)
                except (CnncError, ValueError, OverflowError, RecursionError):
                    raise Refused(422, "the program has errors: fix them to see what a layer sees") from None
                try:
                    kept = (key, net, R.boxes(net))
                except R.TooLarge as e:
                    raise Refused(422, str(e)) from None
                with self.server.regions_lock:
                    self.server.regions = kept
        _, net, stored = kept
        if layer not in stored:
            raise Refused(422, f"no layer '{layer[:100]}' in this program")
        b = stored[layer]
        if unit is not None and not (b.ndim == 3 and all(0 <= u < n for u, n in zip(unit, b.shape))):
            raise Refused(422, f"{layer} has no unit {unit}")
        return 200, R.answer(net, stored, layer, unit, pointer)

    def _save(self, body) -> tuple:
        text = self._text(body)
        name = body.get("name")
        if name is not None and not isinstance(name, str):
            raise Refused(400, "'name' is a file name")
        try:
            path = self.server.session.save(text, name)
        except UsageError as e:
            raise Refused(409, str(e)) from None
        except OSError as e:
            raise Refused(409, f"cannot write: {e.strerror or e}") from None
        return 200, {"saved": path, "file": self.server.session.shown_name}

    def _train(self, body) -> tuple:
        from .. import parse
        from ..errors import CnncError
        from .training import EPOCHS, MAX_EPOCHS, fits, missing_packages

        text = self._text(body)
        shape = _input(body.get("input"))
        epochs = body.get("epochs", EPOCHS)
        if type(epochs) is not int or not 1 <= epochs <= MAX_EPOCHS:
            raise Refused(400, f"'epochs' is an integer from 1 to {MAX_EPOCHS}")
        s = self.server.session
        try:
            net = parse(text, input=shape, filename=s.filename)
        except (CnncError, ValueError, OverflowError, RecursionError):
            raise Refused(422, "the program has errors: fix them to train it") from None
        why = fits(net, epochs) or missing_packages()
        if why:
            raise Refused(422, why)
        if self.server.job.running():
            raise Refused(409, "a training run is going; wait for it to finish")
        from ..runtime.model import compile_model

        params, _, _ = s.weights_for(net)
        model = compile_model(net, backend="numpy", seed=0, weights=params)
        if not self.server.job.start(model, s.keep_trained, epochs):
            raise Refused(409, "a training run is going; wait for it to finish")
        return 200, self.server.job.status()


class _Slot:
    def __init__(self, semaphore):
        self.semaphore = semaphore

    def __enter__(self):
        if not self.semaphore.acquire(timeout=WAIT_S):
            raise Refused(503, "the playground is busy with earlier requests; try again")
        return self

    def __exit__(self, *exc):
        self.semaphore.release()


def _within(net, names, F) -> tuple:
    """The layers whose maps fit in one answer (F.MAX_SENT bytes), and those left out."""
    kept, omitted, total = [], [], 0
    for name in names:
        size = F.sent_bytes(net, [name])
        if total + size > F.MAX_SENT:
            omitted.append(name)
        else:
            kept.append(name)
            total += size
    return kept, omitted


def _pair(body, key: str, types) -> "tuple | None":
    """body[key] as two finite numbers of `types` (a unit's row and column, a pointer's), or None."""
    import math

    value = body.get(key)
    if value is None:
        return None
    if not (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, types) and not isinstance(v, bool) and math.isfinite(v) for v in value)):
        raise Refused(400, f"'{key}' is [row, column]")
    return tuple(value)


def _batch(value) -> "int | None":
    if value is None:
        return None
    if type(value) is not int or not 1 <= value <= 1 << 20:
        raise Refused(400, "'batch' is an integer from 1 to 1,048,576")
    return value


def _input(value) -> "tuple | None":
    """An input shape "HxWxC" from the page (or None), under the input statement's limits."""
    from ..limits import input_problem

    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise Refused(400, "'input' is HxWxC, like 28x28x1")
    try:
        dims = tuple(int(p) for p in value.lower().split("x"))
    except ValueError:
        dims = ()
    if len(dims) != 3 or min(dims) < 1:
        raise Refused(422, f"the input size is HxWxC with positive numbers, like 28x28x1, not '{value}'")
    problem = input_problem(dims)
    if problem:
        raise Refused(422, f"input: {problem}")
    return dims
