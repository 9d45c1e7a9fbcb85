"""The playground's picture in the docs (docs/images/playground.png), made again.

Starts `cnnc play` on examples/lenet.cnn (a free port on 127.0.0.1, in this process), opens
it in Debian's headless Chromium through Playwright, draws a 3 on the canvas, selects
conv_2 and takes a screenshot. Every request off the machine is aborted. The bytes change
with every Chromium (fonts, anti-aliasing), so no test compares them.

    python scripts/screenshot_playground.py                 # writes docs/images/playground.png
    python scripts/screenshot_playground.py --out /tmp/p.png
"""

from __future__ import annotations

import argparse
import os
import sys
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
        "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=os.path.join(ROOT, "docs", "images", "playground.png"))
    args = p.parse_args(argv)
    args.out = os.path.abspath(args.out)
    from playwright.sync_api import sync_playwright

    from cnnc.play.server import serve
    from cnnc.play.session import Session

    os.chdir(ROOT)   # the page names the program as given: examples/lenet.cnn
    server = serve(Session(os.path.join("examples", "lenet.cnn")), 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.port}/"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1050})
            page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(origin) else r.abort())
            page.goto(server.url)
            page.wait_for_selector('#shapes tr[data-layer="conv_1"]')
            box = page.locator("#draw").bounding_box()
            x0, y0 = box["x"], box["y"]
            # a 3: two arcs, drawn as a learner would
            stroke = [(60, 40), (95, 28), (130, 45), (128, 80), (95, 95), (132, 112), (135, 150), (98, 168), (60, 155)]
            page.mouse.move(x0 + stroke[0][0], y0 + stroke[0][1])
            page.mouse.down()
            for x, y in stroke[1:]:
                page.mouse.move(x0 + x, y0 + y, steps=6)
            page.mouse.up()
            page.wait_for_selector('#maps .layer[data-layer="conv_1"] canvas')
            page.click('#shapes tr[data-layer="conv_2"]')
            page.mouse.move(0, 0)
            # the box of conv_2's centre unit, which the server works out after the click
            page.wait_for_function("() => document.querySelector('#region')?.dataset.layer === 'conv_2'")
            page.screenshot(path=args.out)
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
