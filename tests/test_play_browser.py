"""The playground in a real browser: Debian's Chromium, headless, driven by Playwright, doing
what a learner does. Every request that does not go to the playground's own server is
aborted and recorded: the page must work, and ask for nothing, off the machine.

Needs /usr/bin/chromium (`apt-get install chromium`; scripts/test.sh installs it when run as
root) and Playwright for Python (the test extra). Without them these tests fail, saying so.
"""

from __future__ import annotations

import os
import struct
import zlib

import numpy as np
import pytest

from play_server import LENET, ROOT, THIRD, Running, digit

CHROMIUM = "/usr/bin/chromium"
# Chromium's own traffic (updates, sync, field trials) stays off: the machine has no network
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"the browser tests need Chromium at {CHROMIUM}: apt-get install chromium "
                    f"(scripts/test.sh installs it when run as root)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the browser tests need Playwright for Python: pip install -e '.[test]' -c constraints.txt")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class Page:
    """A page on a running playground, every other request aborted and recorded in `.blocked`."""

    def __init__(self, browser, server):
        self.server = server
        self.origin = f"http://127.0.0.1:{server.port}/"
        self.blocked, self.errors = [], []
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.page = self.context.new_page()
        self.page.route("**/*", self._route)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(f"{self.origin}?token={server.token}")
        self.page.wait_for_selector("#shapes tbody tr[data-layer]")

    def _route(self, route):
        if route.request.url.startswith(self.origin):
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def close(self):
        self.context.close()
        assert self.blocked == [], f"the page asked for something off the machine: {self.blocked}"
        assert self.errors == [], self.errors


@pytest.fixture
def lenet_page(browser):
    with Running(LENET) as s:
        page = Page(browser, s)
        yield page.page
        page.close()


def test_lenet_opens_with_conv_1_at_26x26x32_and_121930_parameters(lenet_page):
    p = lenet_page
    assert p.inner_text('#shapes tr[data-layer="conv_1"] td.output') == "26x26x32"
    assert p.inner_text("#total-params") == "121,930"
    assert p.inner_text("#status").startswith("ok")
    # the memory column at the batch shown, and the warning LeNet has (pool_2 drops a row)
    assert "batch 32" in p.inner_text("#totals")
    assert "pool_2" in p.inner_text("#diagnostics li.warning")


def _go_to_line(p, n):
    p.click(".cm-content")
    p.keyboard.press("Control+Home")
    for _ in range(n - 1):
        p.keyboard.press("ArrowDown")
    p.keyboard.press("End")


def test_a_collapsing_conv_is_an_error_at_its_line_until_it_is_fixed(lenet_page):
    p = lenet_page
    _go_to_line(p, 6)                       # the second `pool 2`: the image is 5x5 after it
    p.keyboard.press("Enter")
    p.keyboard.type("conv 8 7x7")
    item = p.wait_for_selector('#diagnostics li.error[data-line="7"]')
    assert "collapses" in item.inner_text() and "padding=same" in item.inner_text()
    p.wait_for_selector(".cm-gutter-lint .cm-lint-marker-error")       # marked in the editor's gutter
    assert p.inner_text("#status") == "1 error"
    p.keyboard.press("Backspace")
    p.keyboard.press("Backspace")
    p.keyboard.press("Backspace")
    p.keyboard.type("3x3")                  # 5x5 -> 3x3: fine
    p.wait_for_selector('#shapes tr[data-layer="conv_3"]')
    assert p.inner_text('#shapes tr[data-layer="conv_3"] td.output') == "3x3x8"
    assert p.locator("#diagnostics li.error").count() == 0
    assert p.locator(".cm-lint-marker-error").count() == 0
    assert p.inner_text('#arithmetic .formula') == "3 = (5 − 3) / 1 + 1"    # the cursor's line selects conv_3


def test_the_graph_is_drawn_and_selecting_a_layer_shows_what_it_sees(lenet_page):
    p = lenet_page
    names = p.eval_on_selector_all("#graph g.node", "gs => gs.map(g => g.dataset.name)")
    assert names == ["input", "conv_1", "pool_1", "conv_2", "pool_2", "flatten_1", "dense_1", "dense_2"]
    assert p.locator("#graph polyline.edge").count() == 7
    p.click('#graph g.node[data-name="conv_2"]')
    assert p.text_content("#sees-name") == "conv_2"
    assert p.inner_text("#arithmetic .formula") == "11 = (13 − 3) / 1 + 1"
    assert "Receptive field 8x8" in p.inner_text("#arithmetic")
    assert "selected" in p.get_attribute('#shapes tr[data-layer="conv_2"]', "class")
    assert p.locator(".cm-cnnc-selected").inner_text() == "conv 64 3x3 relu"


def test_blocks_and_joins_are_framed_in_the_graph(browser):
    with Running(os.path.join(ROOT, "examples", "inception.cnn")) as s:
        page = Page(browser, s)
        p = page.page
        assert p.locator('#graph rect.block[data-join="concat_1"]').count() == 1
        assert p.locator('#graph g.node.join[data-name="concat_1"] ellipse').count() == 1
        assert "concat_1 block" in p.text_content("#graph")
        page.close()


def _png(path, gray):
    """A grayscale 8-bit PNG of `gray` (H, W) in [0, 1], written with zlib alone."""
    h, w = gray.shape
    rows = b"".join(b"\0" + bytes(np.round(gray[i] * 255).astype(np.uint8)) for i in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def test_an_uploaded_digit_shows_conv_1s_feature_maps(lenet_page, tmp_path):
    p = lenet_page
    path = tmp_path / "three.png"
    _png(path, digit(size=56)[..., 0])      # twice LeNet's size: the page resizes it to 28x28
    p.set_input_files("#image-file", str(path))
    p.wait_for_selector('#maps .layer[data-layer="conv_1"] canvas')
    assert p.locator('#maps .layer[data-layer="conv_1"] canvas').count() == 32
    assert p.inner_text("#weights .badge") == "seeded"
    # the maps are pictures of the digit: their pixels differ (one channel's values spread)
    spread = p.eval_on_selector('#maps .layer[data-layer="conv_1"] canvas[data-channel="0"]', """c => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let lo = 255, hi = 0; for (let i = 0; i < d.length; i += 4) { lo = Math.min(lo, d[i + 1]); hi = Math.max(hi, d[i + 1]); }
        return [c.width, c.height, hi - lo]; }""")
    assert spread[:2] == [26, 26] and spread[2] > 100
    assert p.locator('#maps .layer[data-layer="dense_2"] .bars div').count() == 10


def test_a_drawn_digit_shows_feature_maps_too(lenet_page):
    p = lenet_page
    box = p.locator("#draw").bounding_box()
    p.mouse.move(box["x"] + 98, box["y"] + 30)
    p.mouse.down()
    p.mouse.move(box["x"] + 98, box["y"] + 170, steps=8)
    p.mouse.up()
    p.wait_for_selector('#maps .layer[data-layer="pool_2"] canvas')
    assert p.locator('#maps .layer[data-layer="pool_2"] canvas').count() == 64


def _unit_centre(p, selector, r, c):
    """Move the mouse to the middle of unit (r, c) of the canvas `selector` (as drawn, scaled)."""
    p.locator(selector).scroll_into_view_if_needed()
    b = p.locator(selector).bounding_box()
    h, w = p.eval_on_selector(selector, "c => [c.height, c.width]")
    p.mouse.move(b["x"] + (c + 0.5) * b["width"] / w, b["y"] + (r + 0.5) * b["height"] / h)


def _outlined(p, seen):
    """Whether the input view tints yellow the input pixels just inside each edge of the box
    `seen` ([top, bottom, left, right]) and leaves those just outside it gray (the input is a
    gray image, or blank): red above blue marks the tint."""
    return p.eval_on_selector("#input-view", """(c, [box, h, w]) => {
        const s = Math.min(c.width / w, c.height / h), ctx = c.getContext('2d');
        const px = (r, q) => ctx.getImageData(Math.floor((q + 0.5) * s), Math.floor((r + 0.5) * s), 1, 1).data;
        const lit = (r, q) => { const d = px(r, q); return d[0] - d[2] > 20; };
        const [t, b, l, r] = box, mr = (t + b) >> 1, mc = (l + r) >> 1, out = [];
        for (const [rr, qq] of [[t, mc], [b, mc], [mr, l], [mr, r]]) out.push(lit(rr, qq));
        for (const [rr, qq] of [[t - 1, mc], [b + 1, mc], [mr, l - 1], [mr, r + 1]])
          if (rr >= 0 && rr < h && qq >= 0 && qq < w) out.push(!lit(rr, qq));
        return out.every(Boolean); }""", [seen, 28, 28])


def test_pointing_at_a_unit_outlines_exactly_the_input_pixels_it_sees(browser, tmp_path):
    # padding=same windows start above and left of the image: unit (0, 0) of conv_2 reads
    # pool rows -1..3, that is 0..3, which read conv_1 rows 0..7, which read input rows 0..8
    path = tmp_path / "same.cnn"
    path.write_text("input 28x28x1\nconv 4 3x3 padding=same\npool 2\nconv 4 5x5 stride=2 padding=same\n"
                    "flatten\ndense 10 softmax\n")
    with Running(str(path)) as s:
        page = Page(browser, s)
        p = page.page
        p.click('#graph g.node[data-name="conv_1"]')
        _unit_centre(p, "#input-view", 0, 0)        # pointing at the input: the unit centred nearest
        p.wait_for_function("() => document.querySelector('#region').textContent.includes('Unit (0, 0)')")
        assert p.inner_text("#region") == "Unit (0, 0) of conv_1 sees input rows 0–1 and columns 0–1 (2x2 pixels)."
        assert _outlined(p, [0, 1, 0, 1])
        png = tmp_path / "three.png"
        _png(png, digit(size=28)[..., 0])
        p.set_input_files("#image-file", str(png))
        p.wait_for_selector('#maps .layer[data-layer="conv_2"] canvas')
        canvas = '#maps .layer[data-layer="conv_2"] canvas[data-channel="1"]'
        for unit, seen in (((0, 0), [0, 8, 0, 8]), ((6, 6), [21, 27, 21, 27]), ((3, 1), [9, 20, 1, 12])):
            _unit_centre(p, canvas, *unit)
            p.wait_for_function("u => { const d = document.querySelector('#region').dataset; "
                                "return d.layer === 'conv_2' && d.unit === u; }", arg=str(list(unit)).replace(" ", ""))
            assert p.text_content("#sees-name") == "conv_2"
            assert p.get_attribute("#region", "data-box") == str(seen).replace(" ", "")
            assert _outlined(p, seen)
            assert not _outlined(p, [seen[0] + 1] + seen[1:])    # a box one row short is told apart
            assert not _outlined(p, seen[:3] + [seen[3] - 1])
        page.close()


def test_train_shows_the_loss_and_the_feature_maps_change(browser, tmp_path):
    path = tmp_path / "tiny.cnn"
    path.write_text("input 8x8x1\nconv 4 3x3 relu\nflatten\ndense 10 softmax\n")
    with Running(str(path)) as s:
        page = Page(browser, s)
        p = page.page
        png = tmp_path / "three.png"
        _png(png, digit(size=8)[..., 0])
        p.set_input_files("#image-file", str(png))
        p.wait_for_selector('#maps .layer[data-layer="conv_1"] canvas')
        assert p.inner_text("#weights .badge") == "seeded"
        pixels = """c => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)"""
        before = p.eval_on_selector('#maps .layer[data-layer="conv_1"] canvas[data-channel="0"]', pixels)
        p.click("#train")
        p.wait_for_function("() => document.querySelector('#weights .badge')?.textContent === 'trained'",
                            timeout=180_000)   # importing torch and scikit-learn takes most of it
        status = p.inner_text("#train-status")
        assert "test accuracy" in status and "epoch 5/5: loss" in status
        assert "trained here: 5 epochs on the digits" in p.inner_text("#weights")
        after = p.eval_on_selector('#maps .layer[data-layer="conv_1"] canvas[data-channel="0"]', pixels)
        assert len(after) == len(before) == 6 * 6 * 4 and after != before
        assert p.locator('#maps .layer[data-layer="dense_1"] .bars div').count() == 10
        page.close()


def test_definitions_and_named_joins_show_shapes_errors_and_maps_per_layer(browser, tmp_path):
    path = tmp_path / "third.cnn"
    path.write_text(THIRD)
    with Running(str(path)) as s:
        page = Page(browser, s)
        p = page.page
        rows = p.eval_on_selector_all("#shapes tbody tr[data-layer]", "rs => rs.map(r => r.dataset.layer)")
        assert rows == ["input", "conv_1", "batchnorm_1", "a", "conv_2", "batchnorm_2", "b", "pool_1", "up",
                        "add_1", "globalpool_1", "dense_1"]
        assert p.inner_text('#shapes tr[data-layer="conv_2"] td.output') == "16x16x4"
        assert p.locator('#graph rect.block[data-join="add_1"]').count() == 1
        _go_to_line(p, 6)                   # the cursor on a use selects the layer its label names
        p.wait_for_function("() => document.querySelector('#sees-name').textContent === 'b'")
        # the maps of every layer, those the uses made included
        png = tmp_path / "three.png"
        _png(png, digit(size=16)[..., 0])
        p.set_input_files("#image-file", str(png))
        p.wait_for_selector('#maps .layer[data-layer="add_1"] canvas')
        for name in ("conv_1", "a", "conv_2", "b", "up"):
            assert p.locator(f'#maps .layer[data-layer="{name}"] canvas').count() == 4
        # a wrong argument inside the definition: the error at its statement, marked at the use too
        _go_to_line(p, 6)
        p.keyboard.press("Backspace")
        p.keyboard.type("0")                # k=0
        item = p.wait_for_selector('#diagnostics li.error[data-line="3"]')
        assert "conv_2: the kernel size must be positive, got 0" in item.inner_text()
        assert p.inner_text('#diagnostics li.error .note').strip() == "(line 6: in use of 'cbr')"
        p.wait_for_function("() => document.querySelectorAll('.cm-gutter-lint .cm-lint-marker-error').length === 2")
        page.close()
