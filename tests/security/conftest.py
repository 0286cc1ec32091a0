"""Fixtures the security tests share with the browser tests."""

# The module-scoped Chromium (tests/e2e/conftest.py), for tests/security/test_csp_browser.py.
from tests.e2e.conftest import browser  # noqa: F401
