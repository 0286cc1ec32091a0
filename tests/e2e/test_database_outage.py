"""PostgreSQL goes down under an open page (issue 24): a send fails visibly (Retry, never shown
as sent), and once the database is back the same app, not restarted, stores the retried
message once and the next one at the first try. The app runs on a PostgreSQL cluster of the
test's own, which it stops in immediate mode (connections cut, no checkpoint)."""

from __future__ import annotations

import psycopg
import pytest
from playwright.sync_api import expect

from corpchat.cli import migrate
from corpchat.state.base import REVERIFY_SECONDS
from tests import support
from tests.bench.common import PASSWORD
from tests.e2e.helpers import login
from tests.faults.run import seed, stored
from tests.faults.services import Postgres


@pytest.fixture
def outage_app():
    pg = Postgres()
    pg.start()
    app = None
    try:
        with psycopg.connect(pg.url, autocommit=True) as conn:
            conn.execute('CREATE DATABASE "corpchat_outage"')
        url = support._with_database(pg.url, "corpchat_outage")
        migrate(url)
        app = support.AppProcess(env={"DATABASE_URL": url}, log_name="outage").start()
        yield pg, app, url
    finally:
        if app is not None:
            app.stop()
        pg.destroy()


def test_sends_fail_visibly_while_the_database_is_down_and_work_again_after(outage_app, browser, shots):
    pg, app, url = outage_app
    (anna, _), room = seed(url, 2)
    ctx = browser.new_context(viewport={"width": 1100, "height": 760}, locale="en-US", base_url=app.url)
    page = ctx.new_page()
    page.set_default_timeout(15_000)
    login(page, anna, PASSWORD)
    page.locator(".chat-entry", has_text="faults").click()
    expect(page.locator("#room-title")).to_have_text("faults")

    pg.stop("immediate")
    page.fill("#composer", "sent while the database is down")
    page.press("#composer", "Enter")
    expect(page.locator(".msg-retry")).to_be_visible(timeout=30_000)
    # Past REVERIFY_SECONDS the handler re-checks the session first, and that needs the database
    # too: the send must still stay on the page, failed, with its text and Retry.
    page.wait_for_timeout((REVERIFY_SECONDS + 0.5) * 1000)
    page.fill("#composer", "sent when the session re-check is due")
    page.press("#composer", "Enter")
    expect(page.locator(".msg-retry")).to_have_count(2, timeout=30_000)
    expect(page.locator("#messages").get_by_text("sent when the session re-check is due")).to_be_visible()
    shots(page, "database-down")

    pg.start()
    page.locator(".msg-retry").first.click()
    expect(page.locator(".msg-retry")).to_have_count(1, timeout=30_000)
    page.locator(".msg-retry").click()
    expect(page.locator(".msg-retry")).to_have_count(0, timeout=30_000)
    page.fill("#composer", "the first after the outage")
    page.press("#composer", "Enter")
    expect(page.locator("#messages").get_by_text("the first after the outage")).to_be_visible()
    expect(page.locator(".msg-retry")).to_have_count(0)
    shots(page, "database-back")
    texts = [text for text, _ in stored(url, room)]
    assert texts.count("sent while the database is down") == 1
    assert texts.count("the first after the outage") == 1
    assert texts.count("sent when the session re-check is due") == 1
    ctx.close()


def test_a_page_loaded_while_the_database_is_down_comes_back_by_itself(outage_app, browser, shots):
    """Opened (or reconnected) during the outage: the page says so and loads itself, live,
    once the database is back; no reload by the user."""
    pg, app, url = outage_app
    (anna, boris), room = seed(url, 2)
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US", base_url=app.url)
    page = ctx.new_page()
    page.set_default_timeout(15_000)
    login(page, anna, PASSWORD)
    expect(page.locator(".chat-entry", has_text="faults")).to_be_visible()

    pg.stop("immediate")
    page.reload()
    expect(page.get_by_text("The server's database is not answering. Trying again…")).to_be_visible(timeout=30_000)
    shots(page, "loaded-while-down")

    pg.start()
    expect(page.get_by_text("The server's database is not answering. Trying again…")).to_have_count(0, timeout=30_000)
    # Live again: another member's message shows in the chat list without a reload (the
    # retried load registered the tab for the user's live events).
    other = browser.new_context(viewport={"width": 1100, "height": 760}, locale="en-US", base_url=app.url)
    boris_page = other.new_page()
    boris_page.set_default_timeout(15_000)
    login(boris_page, boris, PASSWORD)
    boris_page.locator(".chat-entry", has_text="faults").click()
    boris_page.fill("#composer", "after the page came back")
    boris_page.press("#composer", "Enter")
    expect(page.locator(".chat-entry", has_text="after the page came back")).to_be_visible()
    shots(page, "came-back")
    assert [text for text, _ in stored(url, room)].count("after the page came back") == 1
    other.close()
    ctx.close()
