"""The page in a real browser: headless Chromium loads it from a page server on a free loopback port
(a tiny LSTM export loaded in process), generates, plays, downloads and varies a tune.

One page load for the whole module; the tests run in order and share it. Without Chromium and
chromedriver they are skipped, naming the install command.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import mido
import pytest

from serving.page.catalog import ModelCatalog
from serving.page.host import PageSettings, running_page
from tests.serving.page.chromium import console_errors, missing_browser, requested_urls, start_chromium

pytestmark = [pytest.mark.server, pytest.mark.skipif(missing_browser() is not None, reason=str(missing_browser()))]

BARS = 8


@pytest.fixture(scope="module")
def page_url(tmp_path_factory, tiny_token_models):
    models = tmp_path_factory.mktemp("saved_models")
    shutil.copytree(tiny_token_models[0] / "lstm_erk", models / "lstm_erk")  # export_tiny_lstm's
    with running_page(PageSettings(port=0), ModelCatalog(models_dir=str(models))) as url:
        yield url


@pytest.fixture(scope="module")
def downloads(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(page_url, downloads):
    driver = start_chromium(str(downloads))
    driver.get(page_url)
    wait_for(driver, "return window.folkgen && window.folkgen.ready === true", "the model list")
    yield driver
    driver.quit()


def wait_for(driver, script: str, what: str, timeout: float = 60.0):
    """Polls ``script`` until it returns something truthy; fails naming ``what`` and the page's error."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"no {what} after {timeout} s; the page says: {driver.find_element('id', 'error').text!r}")


def fill(driver, **fields: str) -> None:
    for name, value in fields.items():
        element = driver.find_element("id", name)
        element.clear()
        element.send_keys(value)


def generate(driver, **fields: str) -> dict:
    """Fills the form, clicks Generate and waits for the new tune's score; returns the tune's JSON."""
    before = driver.execute_script("return window.folkgen.tune && window.folkgen.tune.id")
    fill(driver, **fields)
    driver.find_element("id", "generate").click()
    return wait_for(driver, f"const t = window.folkgen.tune; return t && t.id !== {json.dumps(before)} "
                    "&& window.folkgen.timings.drawn && t", "score")


# The engraved score's sounding notes in order as abcjs reads them, [{bar, pitch}]: setUpAudio gives each
# note element its MIDI pitches (a note tied from the one before sounds none, as in a MIDI file), and
# the element's SVG group its measure (class abcjs-mmN, N counted from 0 over the tune).
SCORE_NOTES = """
const tune = window.folkgen.visualObj;
tune.setUpAudio({});
const notes = [];
for (const line of tune.lines) {
  if (!line.staff) continue;
  for (const element of line.staff[0].voices[0]) {
    if (element.el_type !== "note" || !element.midiPitches || !element.abselem) continue;
    const match = /abcjs-mm(\\d+)/.exec(element.abselem.elemset[0].getAttribute("class"));
    for (const played of element.midiPitches) notes.push({bar: Number(match[1]), pitch: played.pitch});
  }
}
return notes;
"""
# The bars the engraved score draws: the distinct measures of its notes and rests.
SCORE_BARS = """
const bars = new Set();
for (const element of document.querySelectorAll("#score .abcjs-note, #score .abcjs-rest")) {
  const match = /abcjs-mm(\\d+)/.exec(element.getAttribute("class"));
  if (match) bars.add(match[1]);
}
return bars.size;
"""
# The peak of the buffer abcjs's synth made for Play (0: silence).
BUFFER_PEAK = """
const buffer = window.folkgen.synth && window.folkgen.synth.getAudioBuffer();
if (!buffer) return null;
let peak = 0;
for (let channel = 0; channel < buffer.numberOfChannels; channel++) {
  for (const sample of buffer.getChannelData(channel)) peak = Math.max(peak, Math.abs(sample));
}
return peak;
"""


def notes_by_bar(driver) -> dict[int, list[int]]:
    bars: dict[int, list[int]] = {}
    for note in driver.execute_script(SCORE_NOTES):
        bars.setdefault(note["bar"], []).append(note["pitch"])
    return bars


def midi_pitches(path: Path) -> list[int]:
    return [message.note for message in mido.MidiFile(str(path)) if message.type == "note_on" and message.velocity > 0]


def test_bad_input_shows_a_readable_message(browser):
    fill(browser, bars="0")
    browser.find_element("id", "generate").click()
    message = wait_for(browser, "const e = document.getElementById('error'); return !e.hidden && e.textContent",
                       "error message")
    assert "bars" in message and "0" in message
    fill(browser, bars=str(BARS), key="H")
    browser.find_element("id", "generate").click()
    wait_for(browser, "return document.getElementById('error').textContent.includes(\"'H\")", "unknown key message")
    assert "unknown key" in browser.find_element("id", "error").text
    # The two refusals are the only console entries: Chromium logs each 400 answer.
    assert [entry for entry in console_errors(browser) if "/api/generate" not in entry or "400" not in entry] == []


def test_generate_engraves_the_requested_bars_with_the_midi_download_s_notes(browser, downloads):
    tune = generate(browser, key="G", meter="3/4", bars=str(BARS), seed="11")
    assert browser.find_element("id", "error").is_displayed() is False
    assert (tune["key"], tune["meter"], tune["bars"]) == ("G", "3/4", BARS)
    assert browser.execute_script(SCORE_BARS) == BARS
    assert f"seed {tune['seed']}" in browser.find_element("id", "seed-line").text
    assert browser.find_element("id", "novelty").text.startswith("longest run in a training tune:")
    wait_for(browser, "return !document.getElementById('dl-mid').hidden", "MIDI download link")
    browser.find_element("id", "dl-mid").click()
    midi = downloads / f"lstm_erk_seed{tune['seed']}.mid"
    deadline = time.monotonic() + 20
    while not midi.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert midi.exists(), f"the MIDI download did not arrive: {sorted(p.name for p in downloads.iterdir())}"
    bars = notes_by_bar(browser)
    engraved = [pitch for _, pitches in sorted(bars.items()) for pitch in pitches]
    assert sorted(bars) == list(range(BARS)) and engraved == midi_pitches(midi)
    assert {pitch % 12 for pitch in engraved} <= {7, 9, 11, 0, 2, 4, 6}  # G major's scale, the constraint


def test_playback_synthesises_a_buffer_that_is_not_silent(browser):
    fill(browser, tempo="90")
    browser.find_element("id", "play").click()
    peak = wait_for(browser, BUFFER_PEAK, "synthesised buffer", timeout=60)
    assert peak > 0.05
    assert "Playing at 90" in browser.find_element("id", "play-status").text
    browser.find_element("id", "stop").click()


def test_vary_on_bar_3_changes_bar_3_only(browser):
    from selenium.webdriver.common.action_chains import ActionChains

    before = notes_by_bar(browser)
    tune = browser.execute_script("return window.folkgen.tune")
    # A click where bar 3's first note is drawn (a staff line lies on top: abcjs finds the nearest note).
    note = browser.find_element("css selector", "#score .abcjs-mm2.abcjs-note, #score .abcjs-mm2.abcjs-rest")
    ActionChains(browser).move_to_element(note).click().perform()
    assert browser.find_element("id", "selection").text == "selected: bar 3"
    assert browser.find_elements("css selector", "#score .abcjs-mm2.bar-selected")
    browser.find_element("id", "vary").click()
    varied = wait_for(browser, f"const t = window.folkgen.tune; return t && t.parent === {json.dumps(tune['id'])} && t",
                      "varied tune")
    after = notes_by_bar(browser)
    assert varied["varied"] == [2] and varied["seed"] == tune["seed"] and varied["bars"] == BARS
    assert "bar 3 varied" in browser.find_element("id", "seed-line").text
    assert sorted(after) == sorted(before)
    assert after[2] != before[2]
    assert {bar: notes for bar, notes in after.items() if bar != 2} == {bar: notes for bar, notes in before.items()
                                                                        if bar != 2}


def test_the_page_asked_nothing_of_any_other_host_and_logged_no_error(browser, page_url):
    urls = requested_urls(browser)
    assert urls and any("/soundfont/" in url for url in urls)
    outside = [url for url in urls if not url.startswith(page_url) and not url.startswith(("data:", "blob:"))]
    assert not outside
    assert console_errors(browser) == []
