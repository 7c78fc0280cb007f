"""The web page in a real headless Chromium (Debian's /usr/bin/chromium,
driven by Playwright): type a query, see results, play a sound, click
through to more-like-this, reload restores the state from the URL.
A screenshot goes to test-artifacts/ in the repo root."""
import pytest

from xmodal.search import Engine
from xmodal.search.app import create_app

from browser_util import ARTIFACTS, chromium_page, serving, url_state

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture()
def server(tiny_index, tiny_stack):
    path, _root = tiny_index
    with serving(create_app(Engine.open(str(path), encoder=tiny_stack))) as url:  # roots from the build report
        yield url


@pytest.fixture()
def page():
    with chromium_page() as pg:
        yield pg


def test_search_play_and_more_like_this(server, page):
    page.goto(server + "/")
    page.fill("#q", "a red circle")
    page.press("#q", "Enter")
    page.wait_for_selector("#results .hit")
    assert page.locator("#results .hit").count() == 20  # k=20 default, corpus has 34 rows
    assert url_state(page) == {"q": "a red circle", "k": "20"}
    assert "results for" in page.inner_text("#status")

    # Only sounds: the target switch re-runs the query and lands in the URL.
    page.select_option("#target", "audio")
    page.wait_for_function("document.querySelectorAll('#results .hit').length === 4 && "
                           "[...document.querySelectorAll('#results .hit')].every(h => h.dataset.modality === 'audio')")
    assert url_state(page)["target"] == "audio"
    played = page.evaluate("""async () => {
        const audio = document.querySelector('#results .hit audio');
        await audio.play();
        await new Promise(r => setTimeout(r, 400));
        return {paused: audio.paused, time: audio.currentTime, error: audio.error && audio.error.code};
    }""")
    assert played["error"] is None and not played["paused"] and played["time"] > 0, played

    # Images, with thumbnails that actually decode.
    page.select_option("#target", "image")
    page.wait_for_function("[...document.querySelectorAll('#results .hit')].every(h => h.dataset.modality === 'image')")
    page.wait_for_function("[...document.querySelectorAll('#results img')].every(i => i.complete && i.naturalWidth > 0)")
    first = page.locator("#results .hit").first
    clicked = first.get_attribute("data-id")
    first.click()
    page.wait_for_function(f"document.getElementById('status').textContent.includes({clicked!r})")
    page.wait_for_function("document.querySelectorAll('#results .hit').length > 0")
    assert url_state(page) == {"id": clicked, "target": "image", "k": "20"}
    ids = page.eval_on_selector_all("#results .hit", "els => els.map(e => e.dataset.id)")
    assert clicked not in ids and len(ids) == 5  # the other 5 images

    # Reload: the URL alone restores the more-like-this results.
    page.reload()
    page.wait_for_function("document.querySelectorAll('#results .hit').length === 5")
    assert page.eval_on_selector_all("#results .hit", "els => els.map(e => e.dataset.id)") == ids
    assert page.input_value("#target") == "image"
    page.go_back()
    page.wait_for_function("document.querySelectorAll('#results .hit').length === 6 || "
                           "document.querySelector('#q').value === 'a red circle'")

    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(server + "/?q=a+red+circle&target=image&k=10")
    page.wait_for_function("[...document.querySelectorAll('#results img')].length === 6 && "
                           "[...document.querySelectorAll('#results img')].every(i => i.complete && i.naturalWidth > 0)")
    page.screenshot(path=str(ARTIFACTS / "search-page.png"), full_page=True)
    page.goto(server + "/?q=a+low+tone&k=50")
    page.wait_for_selector("#results audio", state="attached")
    page.screenshot(path=str(ARTIFACTS / "search-page-mixed.png"), full_page=True)


def test_file_pick_searches_by_image(server, page, tiny_index):
    _path, root = tiny_index
    page.goto(server + "/?target=image&k=10")
    page.set_input_files("#file", str(root / "img" / "blue.png"))  # picking a file submits
    page.wait_for_function("document.getElementById('status').textContent.includes('blue.png')")
    page.wait_for_function("document.querySelectorAll('#results .hit').length === 6")
    ids = page.eval_on_selector_all("#results .hit", "els => els.map(e => e.dataset.id)")
    assert ids[0] == "img/blue.png"  # the same picture, embedded the same way, ranks first
    assert url_state(page) == {"target": "image", "k": "10"}  # uploads are not put in the URL


def test_error_is_shown_not_thrown(server, page):
    page.goto(server + "/?id=no-such-item")
    page.wait_for_function("document.getElementById('status').classList.contains('error')")
    assert "not in the index" in page.inner_text("#status")
