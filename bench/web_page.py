"""The web page in headless Chromium, side by side in one run: its load time, and for a 16-bar tune
from each token model the time from clicking Generate to the score drawn, beside the server's own
time for that job (sampling + writing the files; the sampling alone beside it) and their ratio (what
the page adds: polling, the JSON, abcjs's engraving). 16 bars of 4/4 in G major, seeds 1..N.

    python bench/web_page.py [--models-dir saved_models] [--repeats 3] [--screenshot docs/web.png]

The page is served on a free 127.0.0.1 port with the models loaded in process (as `make web`); the
browser is Debian's chromium through /usr/bin/chromedriver, kept off the network. Page load: from
navigation start to the model list filled in (the page usable), median over `--repeats` loads
(the first includes abcjs's 500 kB script from a cold cache). Each model's first tune is timed too
but reported apart (it loads the model's SavedModel and, for the novelty line, its training index).
With `--screenshot` the page is saved after an lstm_erk tune (G major, 3/4, 16 bars) is drawn and its
downloads written, with two bars selected for Vary.
"""
from __future__ import annotations

import argparse
import logging
import os
import pathlib
import statistics
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from serving.page.catalog import ModelCatalog  # noqa: E402
from serving.page.host import PageSettings, running_page  # noqa: E402
from tests.serving.page.chromium import missing_browser, start_chromium  # noqa: E402

BARS = 16
READY = "return window.folkgen && window.folkgen.ready === true"


def wait_for(driver, script: str, timeout: float = 600.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.02)
    raise TimeoutError(f"{script!r} still false after {timeout} s; page error: {driver.find_element('id', 'error').text!r}")


def page_load_ms(driver, url: str) -> float:
    """Navigation start to the model list filled in, in ms (the page's own clock)."""
    driver.get(url)
    wait_for(driver, READY)
    return driver.execute_script("return performance.now()")


def click_to_score(driver, model: str, seed: int, key: str = "G", meter: str = "4/4") -> tuple[float, float, float]:
    """(ms from the Generate click to the score drawn, the server's ms for the job, of which sampling)."""
    before = driver.execute_script("return window.folkgen.tune && window.folkgen.tune.id")
    driver.execute_script("document.getElementById('model').value = arguments[0]", model)
    for name, value in (("key", key), ("meter", meter), ("bars", str(BARS)), ("seed", str(seed))):
        element = driver.find_element("id", name)
        element.clear()
        element.send_keys(value)
    driver.find_element("id", "generate").click()
    wait_for(driver, f"const t = window.folkgen.tune; return t && t.id !== {before!r} && window.folkgen.timings.drawn"
             if before else "return window.folkgen.tune && window.folkgen.timings.drawn")
    timings = driver.execute_script("return window.folkgen.timings")
    job = driver.execute_script("return window.folkgen.lastJob")
    return timings["drawn"] - timings["clicked"], job["seconds"] * 1000, job["sampling"] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models-dir", default=str(REPO / "saved_models"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--screenshot", help="save a PNG of the page with an lstm_erk tune drawn")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    reason = missing_browser()
    if reason:
        print(f"bench/web_page.py: {reason}", file=sys.stderr)
        return 1
    catalog = ModelCatalog(models_dir=args.models_dir)
    with running_page(PageSettings(port=0), catalog) as url, tempfile.TemporaryDirectory() as downloads:
        models = [name for name, _ in catalog.token_models()]
        driver = start_chromium(downloads)
        try:
            loads = [page_load_ms(driver, url) for _ in range(args.repeats)]
            print(f"page load (navigation to models listed): median {statistics.median(loads):.0f} ms "
                  f"(first {loads[0]:.0f} ms, {args.repeats} loads)")
            print(f"{'model':<12} {'first ms':>9} {'click-to-score ms':>18} {'server job ms':>14} {'ratio':>6} "
                  f"{'of which sampling ms':>21}")
            for model in models:
                first = click_to_score(driver, model, 0)[0]
                runs = [click_to_score(driver, model, seed) for seed in range(1, args.repeats + 1)]
                page_ms, job_ms, sampling_ms = (statistics.median(run[column] for run in runs) for column in range(3))
                print(f"{model:<12} {first:>9.0f} {page_ms:>18.0f} {job_ms:>14.0f} {page_ms / job_ms:>6.2f} "
                      f"{sampling_ms:>21.0f}")
            if args.screenshot and "lstm_erk" in models:
                driver.set_window_size(1280, 1080)
                click_to_score(driver, "lstm_erk", 7, key="G", meter="3/4")
                wait_for(driver, "return !document.getElementById('dl-png').hidden")  # every download written
                for bar in (5, 6):  # bars 6 and 7 selected for Vary, as a click on each selects it
                    driver.execute_script("window.folkgen.selected.add(arguments[0]); window.folkgen.markSelection()", bar)
                os.makedirs(os.path.dirname(os.path.abspath(args.screenshot)), exist_ok=True)
                driver.save_screenshot(args.screenshot)
                print(f"screenshot: {args.screenshot}")
        finally:
            driver.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
