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


def test_file_pick_searches_by_image_shows_it_and_survives_reload(server, page, tiny_index):
    _path, root = tiny_index
    page.goto(server + "/?target=image&k=10")
    page.set_input_files("#file", str(root / "img" / "blue.png"))  # picking a file submits
    page.wait_for_function("document.getElementById('status').textContent.includes('blue.png')")
    page.wait_for_function("document.querySelectorAll('#results .hit').length === 6")
    ids = page.eval_on_selector_all("#results .hit", "els => els.map(e => e.dataset.id)")
    assert ids[0] == "img/blue.png"  # the same picture, embedded the same way, ranks first
    assert url_state(page) == {"target": "image", "k": "10", "upload": "1"}  # the file itself is not in the URL
    page.wait_for_function("document.querySelector('#query img') && document.querySelector('#query img').naturalWidth === 96")
    assert page.inner_text("#query-text") == "blue.png"
    page.reload()  # the upload is kept for the tab: the same search comes back
    page.wait_for_function("document.querySelectorAll('#results .hit').length === 6")
    assert page.eval_on_selector_all("#results .hit", "els => els.map(e => e.dataset.id)") == ids
    page.wait_for_function("document.querySelector('#query img') && document.querySelector('#query img').naturalWidth === 96")
    page.click("#query-clear")
    page.wait_for_function("document.querySelectorAll('#results .hit').length === 0")
    assert page.is_hidden("#query")


def ids_on(page) -> list[str]:
    return page.eval_on_selector_all("#results .hit", "els => els.map(e => e.dataset.id)")


def api_ids(page, body: dict) -> list[str]:
    return page.evaluate("""async (body) => {
        const r = await fetch('/search', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                          body: JSON.stringify(body)});
        return (await r.json()).hits.map(h => h.id);
    }""", body)


def test_load_more_filters_and_dedup_live_in_the_url(server, page):
    page.goto(server + "/?q=a+circle&k=10")
    page.wait_for_function("document.querySelectorAll('#results .hit').length === 10")
    page.click("#more")
    page.wait_for_function("document.querySelectorAll('#results .hit').length === 20")
    shown = ids_on(page)
    assert len(set(shown)) == 20 and shown == api_ids(page, {"text": "a circle", "k": 20})  # pages = one big query
    everything = api_ids(page, {"text": "a circle", "k": 100})
    assert 20 < len(everything) < 30  # the corpus's 26 rows
    page.click("#more")  # the last page is short, and the button goes
    page.wait_for_function(f"document.querySelectorAll('#results .hit').length === {len(everything)}")
    page.wait_for_selector("#more", state="hidden")
    assert ids_on(page) == everything

    page.fill("#where", "colour=red|blue")
    page.press("#where", "Enter")
    page.wait_for_function("location.search.includes('where=')")
    page.wait_for_function("document.getElementById('status').textContent.includes('results for')")
    filtered = ids_on(page)
    assert filtered and filtered == api_ids(page, {"text": "a circle", "k": 10,
                                                   "where": {"colour": ["red", "blue"]}})
    assert url_state(page) == {"q": "a circle", "k": "10", "where": "colour=red|blue"}
    page.check("#dedup")
    page.wait_for_function("location.search.includes('dedup=1')")
    page.reload()  # filter and dedup come back from the URL
    page.wait_for_function("document.getElementById('status').textContent.includes('results for')")
    assert page.input_value("#where") == "colour=red|blue" and page.is_checked("#dedup")
    assert ids_on(page) == api_ids(page, {"text": "a circle", "k": 10, "dedup": 0.95,
                                          "where": {"colour": ["red", "blue"]}})
    page.fill("#where", "colour")
    page.press("#where", "Enter")
    page.wait_for_function("document.getElementById('status').classList.contains('error')")
    assert "key=value" in page.inner_text("#status")


def test_sounds_show_duration_and_waveform(server, page):
    page.goto(server + "/?q=a+low+tone&target=audio")
    page.wait_for_function("document.querySelectorAll('#results .hit').length === 4")
    page.wait_for_function("document.querySelectorAll('#results canvas.wave[data-drawn]').length === 4")
    durations = page.eval_on_selector_all("#results .hit", "els => els.map(e => Number(e.dataset.duration))")
    assert all(abs(d - 1.0) < 0.05 for d in durations), durations  # the corpus's clips are 1 s long
    assert page.eval_on_selector_all("#results .duration", "els => els.map(e => e.textContent)") == ["0:01.0"] * 4
    inked = page.evaluate("""() => [...document.querySelectorAll('#results canvas.wave')].map(c => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
        return n / (c.width * c.height);
    })""")
    assert all(0.2 < f < 1.0 for f in inked), inked  # drawn bars, neither blank nor a solid block
    players = page.eval_on_selector_all("#results audio", "els => els.map(a => a.duration)")
    assert all(abs(d - 1.0) < 0.05 for d in players), players  # preload=metadata: no more 0:00


def test_error_is_shown_not_thrown(server, page):
    page.goto(server + "/?id=no-such-item")
    page.wait_for_function("document.getElementById('status').classList.contains('error')")
    assert "not in the index" in page.inner_text("#status")
