"""The review page in a real browser: headless Chromium (the system's /usr/bin/chromium, driven by
Selenium through /usr/bin/chromedriver; `.ci/run` installs both) opens the generated page from
file://, finds 第五条, its rule `age`, and the quote 年龄一般不超过65周岁 inside <mark>s that are
visible with a background of their own; and keeps a screenshot of the article as a test artefact
under tests/artifacts/ (printed). A browser that cannot start fails the test with the reason:
nothing is skipped."""
from __future__ import annotations

import base64
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from policy_engine.policy.registry import Registry
from policy_engine.review import site

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
XJ = "xj-iit-expert-pool"
ARTICLE = "第五条"
RULE = "age"
QUOTE = "年龄一般不超过65周岁"
CHROMIUM = os.environ.get("POLICY_ENGINE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("POLICY_ENGINE_CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
         "--window-size=1200,1600", "--hide-scrollbars")


@pytest.fixture
def browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as exc:
        pytest.fail(f"the browser test needs selenium (pip install '.[test]'): {exc}")
    for what, path in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER)):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            pytest.fail(f"{what} is not at {path}: install it (apt-get install chromium chromium-driver; .ci/run "
                        f"does) or name it with POLICY_ENGINE_{what.upper()}")
    profile = tempfile.mkdtemp(prefix="review-browser-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    try:
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    except Exception as exc:  # noqa: BLE001 - any failure to start is the test's failure, with its reason
        shutil.rmtree(profile, ignore_errors=True)
        pytest.fail(f"headless chromium did not start: {type(exc).__name__}: {exc}")
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_the_page_shows_an_article_with_its_rule_and_its_quote_highlighted(browser, tmp_path):
    from selenium.webdriver.common.by import By
    registry = Registry.load(ROOT / "policies")
    policy = registry.versions(XJ)[0]
    goldens, problems = site.read_goldens(ROOT / "fixtures", [XJ])
    assert problems == []
    site.build_site([policy], goldens, tmp_path / "site")
    page = tmp_path / "site" / XJ / f"{policy.version}.html"
    browser.get(page.as_uri())

    article = browser.find_element(By.CSS_SELECTOR, f'section.article[data-article="{ARTICLE}"]')
    browser.execute_script("arguments[0].scrollIntoView({block: 'start'});", article)
    assert article.is_displayed()
    # the rule beside the article: its id, title and strength, visible
    rule = next(e for e in article.find_elements(By.CSS_SELECTOR, "aside .element.rule")
                if e.find_element(By.CSS_SELECTOR, ".rid").text == RULE)
    assert rule.is_displayed() and "年龄" in rule.text and "一般" in rule.text
    # the quote inside the article's text, in marks carrying the rule's quote id
    qid = rule.get_attribute("id")
    marks = [m for m in article.find_elements(By.CSS_SELECTOR, ".body mark")
             if qid in (m.get_attribute("data-q") or "").split()]
    assert marks, f"no <mark> of {RULE} in {ARTICLE}"
    assert "".join(m.text for m in marks) == QUOTE
    body = browser.execute_script("return getComputedStyle(arguments[0]).backgroundColor;",
                                  article.find_element(By.CSS_SELECTOR, ".body"))
    for m in marks:
        assert m.is_displayed() and m.size["width"] > 0 and m.size["height"] > 0
        background = browser.execute_script("return getComputedStyle(arguments[0]).backgroundColor;", m)
        assert background not in ("rgba(0, 0, 0, 0)", "transparent", body), background
    # the stylesheet is local and was applied (the article and its aside side by side)
    text = article.find_element(By.CSS_SELECTOR, ".text")
    aside = article.find_element(By.CSS_SELECTOR, "aside")
    assert aside.location["x"] > text.location["x"] + text.size["width"] - 1
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "review-xj-article-5.png"
    assert article.screenshot(str(shot)), "the screenshot was not written"
    print(f"screenshot: {shot}")
    assert shot.stat().st_size > 10_000
    # printed: the navigation is left out, the marks keep their colour, and the page prints to PDF
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    assert not browser.find_element(By.CSS_SELECTOR, "nav.toc").is_displayed()
    assert browser.execute_script("return getComputedStyle(arguments[0]).printColorAdjust;", marks[0]) == "exact"
    pdf = base64.b64decode(browser.print_page())
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
