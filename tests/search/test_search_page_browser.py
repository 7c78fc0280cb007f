"""The page's server-side parts in real headless Chromium: /docs and
/redoc render with every request off this server blocked, a transparent
image's thumbnail is white where it is transparent (read from the pixels of
a screenshot), and behind an API key the browser logs in once and then
loads the page, its searches and its thumbnails on the session cookie."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from browser_util import ARTIFACTS, chromium_page, serving
from page_fakes import page_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]
KEY = "browser-key"


def block_the_network(page, origin: str) -> list[str]:
    """Abort every request that does not go to `origin`; returns the list
    of URLs that were tried (a CDN the docs would need)."""
    tried: list[str] = []

    def route(r):
        if r.request.url.startswith(origin + "/"):
            r.continue_()
        else:
            tried.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    return tried


def test_docs_render_offline(tmp_path):
    pytest.importorskip("fastapi_offline", reason="pip install fastapi-offline (a declared dependency)")
    with serving(page_app(tmp_path)) as origin, chromium_page() as page:
        tried = block_the_network(page, origin)
        page.goto(origin + "/docs")
        page.wait_for_selector(".swagger-ui .opblock-summary-path", timeout=20000)
        paths = page.eval_on_selector_all(".opblock-summary-path", "els => els.map(e => e.textContent.trim())")
        assert "/search" in paths and "/health" in paths, paths
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "docs-offline.png"))
        assert not tried, tried
        page.goto(origin + "/redoc")
        page.wait_for_function("document.body.innerText.includes('Search with text, media, a vector or an id')",
                               timeout=20000)
        # ReDoc's bundle hard-codes its "API docs by Redocly" footer logo on
        # its CDN: only that decoration may be missing.
        assert all(u.endswith("/logo-mini.svg") for u in tried), tried


def test_thumbnail_is_white_where_the_image_is_transparent(tmp_path):
    with serving(page_app(tmp_path)) as origin, chromium_page() as page:
        page.goto(origin + "/?q=x&target=image")
        page.wait_for_function("[...document.querySelectorAll('#results img')].length === 1 && "
                               "document.querySelector('#results img').naturalWidth > 0")
        img = page.locator("#results img")
        # the rendered picture inside the element (object-fit: contain letterboxes it)
        box = page.evaluate("""() => {
            const i = document.querySelector('#results img'), r = i.getBoundingClientRect();
            const cs = getComputedStyle(i), px = (v) => parseFloat(v) || 0;
            const left = px(cs.paddingLeft) + px(cs.borderLeftWidth), top = px(cs.paddingTop) + px(cs.borderTopWidth);
            const cw = r.width - left - px(cs.paddingRight) - px(cs.borderRightWidth);
            const ch = r.height - top - px(cs.paddingBottom) - px(cs.borderBottomWidth);
            const s = Math.min(cw / i.naturalWidth, ch / i.naturalHeight);
            const w = i.naturalWidth * s, h = i.naturalHeight * s;
            return {x: left + (cw - w) / 2, y: top + (ch - h) / 2, w, h};
        }""")
        shot = Image.open(io.BytesIO(img.screenshot())).convert("RGB")
        x0, y0 = int(box["x"]) + 3, int(box["y"]) + 3
        x1, y1 = int(box["x"] + box["w"]) - 4, int(box["y"] + box["h"]) - 4
        for px in (shot.getpixel((x0, y0)), shot.getpixel((x1, y0)), shot.getpixel((x0, y1)),
                   shot.getpixel((x1, y1))):
            assert min(px) >= 240, px  # white: not black, not the hidden green
        r, g, b = shot.getpixel((shot.width // 2, shot.height // 2))
        assert r > 170 and g < 90 and b < 90, (r, g, b)  # the red disc


def test_login_once_then_page_search_and_thumbnails_work(tmp_path):
    with serving(page_app(tmp_path, api_key=KEY)) as origin, chromium_page() as page:
        page.goto(origin + "/?q=x&target=image")
        assert "/login" in page.url
        page.fill("#key", "not the key")
        page.click("button[type=submit]")
        page.wait_for_selector("#login-error:has-text('not right')")
        page.fill("#key", KEY)
        page.click("button[type=submit]")
        page.wait_for_function("document.querySelectorAll('#results img').length === 1 && "
                               "document.querySelector('#results img').naturalWidth > 0")
        assert page.url == origin + "/?q=x&target=image"  # back where the visit started
        assert "xmodal_session" not in page.evaluate("document.cookie")  # HttpOnly
        page.reload()  # the cookie, not a header, carries the key
        page.wait_for_function("document.querySelector('#results img') && "
                               "document.querySelector('#results img').naturalWidth > 0")
        assert page.evaluate("fetch('/openapi.json').then(r => r.status)") == 200  # what /docs fetches
