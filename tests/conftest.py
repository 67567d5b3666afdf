"""Fixtures shared by the test modules."""

import functools

import pytest


@pytest.fixture
def eager(monkeypatch):
    """Compile Keras models without graph tracing, which dominates one-epoch
    fits on tiny data."""
    from classifiers import training

    monkeypatch.setattr(training, "compile_for_task",
                        functools.partial(training.compile_for_task, run_eagerly=True))


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update"]


@pytest.fixture
def browser_page():
    """A page in a real headless Chromium (Debian's, driven by playwright).

    Skips where Chromium or playwright is missing, except under CI (the ``CI``
    environment variable), whose script installs both: there a missing
    browser is a failure, not a skip.
    """
    import os

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        playwright_missing = True
    else:
        playwright_missing = False
    if playwright_missing or not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("CI needs playwright and /usr/bin/chromium for the browser tests")
        pytest.skip("needs playwright and /usr/bin/chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            yield page
        finally:
            browser.close()
