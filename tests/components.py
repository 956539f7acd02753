"""What some tests need besides the package and its Python dependencies, and the failure without it.

A test whose component cannot start FAILS, with the reason and the fix; it never skips. A skip
reads as a pass in a summary, so the check the test stands for would be silently gone on the
one machine where it matters.

    libyaml   PyYAML's C parser, which yamlio uses to compose YAML (tests/test_yaml_composer.py,
              tests/test_hardening_values.py compare it with the pure-Python composer)
    openssl   the command the README gives for checking a draw's order without this program
              (tests/test_selection.py runs it)
    chromium  Debian's chromium and chromium-driver, which tests/test_review_browser.py drives
              (through Selenium) to open the review page in a real headless browser
    postgres  PostgreSQL's server binaries (Debian's postgresql) and the psycopg driver, with which
              the audit log's tests start a server of their own (tests/audit_pg.py)

`python3 tests/components.py` checks them all and says what is missing (.ci/run does, before the suite).
"""
from __future__ import annotations

import os
import shutil
import sys

import pytest
import yaml

LIBYAML_MISSING = (
    "PyYAML {version} ({where}) was built without libyaml (yaml.__with_libyaml__ is False). The engine "
    "still works, composing YAML in pure Python (slower), but the tests comparing libyaml's composer "
    "with the pure-Python one have nothing to compare. PyPI's binary wheels of PyYAML bundle libyaml; "
    "a PyYAML built from source has it only if libyaml's headers were there when it was built. Fix: "
    "install them (Debian/Ubuntu: apt-get install libyaml-dev) and rebuild PyYAML: "
    "python3 -m pip install --force-reinstall --no-cache-dir --no-binary PyYAML PyYAML"
)
OPENSSL_MISSING = (
    "the openssl command is not installed: the README tells readers to check a draw's order with "
    "`printf %s <id> | openssl dgst -sha256 -mac HMAC -macopt hexkey:<seed>`, and the test runs that "
    "command to show it gives the receipt's key. Fix: install OpenSSL's command-line tool "
    "(Debian/Ubuntu: apt-get install openssl)"
)

BROWSER_MISSING = (
    "{what} is missing: tests/test_review_browser.py opens the review page in Debian's headless "
    "Chromium through chromedriver. Fix: apt-get install chromium chromium-driver fonts-noto-cjk "
    "(.ci/run does this when they are missing)"
)
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def missing_browser() -> str | None:
    """Why the review page's browser test cannot start its browser here, or None."""
    import os
    absent = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    return BROWSER_MISSING.format(what=" and ".join(absent)) if absent else None


def missing_libyaml() -> str | None:
    """Why libyaml cannot be used here, or None when PyYAML has it."""
    if getattr(yaml, "__with_libyaml__", False):
        return None
    return LIBYAML_MISSING.format(version=getattr(yaml, "__version__", "?"), where=yaml.__file__)


def missing_openssl() -> str | None:
    """Why the openssl command cannot be run here, or None when it is on the PATH."""
    return None if shutil.which("openssl") else OPENSSL_MISSING


def libyaml_composer() -> type:
    """The composer yamlio uses with libyaml; fails the calling test, with the reason, without libyaml."""
    import policy_engine.yamlio as yamlio  # here, so that `python3 tests/components.py` runs without the package

    reason = missing_libyaml()
    if reason:
        pytest.fail(reason, pytrace=False)
    if yamlio._Composer is yamlio._Loader:
        pytest.fail("PyYAML has libyaml, but policy_engine.yamlio does not compose with it "
                    "(yamlio._Composer is the pure-Python _Loader)", pytrace=False)
    return yamlio._Composer


def openssl() -> str:
    """The path of the openssl command; fails the calling test, with the reason, without it."""
    reason = missing_openssl()
    if reason:
        pytest.fail(reason, pytrace=False)
    return shutil.which("openssl") or "openssl"


def main() -> int:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from audit_pg import missing as missing_postgres  # beside this file
    reasons = [r for r in (missing_libyaml(), missing_openssl(), missing_browser(), missing_postgres()) if r]
    for reason in reasons:
        print(f"missing: {reason}", file=sys.stderr)
    return 1 if reasons else 0


if __name__ == "__main__":
    sys.exit(main())
