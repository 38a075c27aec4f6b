"""The directory and the recipient suggestions in Chromium at phone size."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dev.directory_sample import SAMPLE
from dev.env import webmail_env
from dev.stack import Stack
from tests import test_browser
from tests.conftest import MailUser
from tests.served import served_webmail
from tests.test_browser import sign_in
from webmail.directory.importer import import_file

pytestmark = pytest.mark.browser
# Chromium at phone size, as the other browser tests run it.
browser = test_browser.browser
phone = test_browser.phone


@pytest.fixture(scope="module")
def server(stack: Stack) -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="mss-directory-") as state:
        index = Path(state) / "annuaire.sqlite"
        import_file(SAMPLE, index)
        with served_webmail(webmail_env(stack, MSS_DIRECTORY_INDEX=str(index))) as (url, _):
            yield url


def test_type_a_prefix_pick_with_the_keyboard_and_the_recipient_is_filled(
    server: str, phone: object, user: MailUser
) -> None:
    page = phone
    sign_in(page, server, user)
    page.goto(server + "/compose")  # type: ignore[attr-defined]
    field = page.locator("#to")  # type: ignore[attr-defined]
    assert field.get_attribute("role") == "combobox"
    assert field.get_attribute("aria-expanded") == "false"
    field.fill("paul.durand@infirmier.mssante.test, ")
    field.press_sequentially("lefèvre pneu", delay=30)
    listbox = page.locator("#to-suggestions")  # type: ignore[attr-defined]
    listbox.locator("[role=option]").first.wait_for()
    assert field.get_attribute("aria-expanded") == "true"
    options = listbox.locator("[role=option]")
    assert options.count() == 1
    field.press("ArrowDown")
    first = options.first
    assert first.get_attribute("aria-selected") == "true"
    assert field.get_attribute("aria-activedescendant") == first.get_attribute("id")
    field.press("Enter")  # chooses, does not send
    assert page.url.endswith("/compose")  # type: ignore[attr-defined]
    assert field.input_value() == (
        "paul.durand@infirmier.mssante.test, sophie.lefevre@chu-demo.mssante.test, "
    )
    assert listbox.is_hidden()
    assert field.get_attribute("aria-expanded") == "false"
    assert page.evaluate("document.activeElement.id") == "to"  # type: ignore[attr-defined]

    # Escape closes the list and leaves the text as typed; a tap chooses on a phone.
    field.press_sequentially("moreau card", delay=30)
    listbox.locator("[role=option]").first.wait_for()
    field.press("Escape")
    assert listbox.is_hidden()
    assert field.input_value().endswith(", moreau card")
    field.press_sequentially(" ", delay=30)
    listbox.locator("[role=option]").first.wait_for()
    box = listbox.locator("[role=option]").first.bounding_box()
    assert box is not None and box["height"] >= 44
    listbox.locator("[role=option]").first.tap()
    assert "antoine.moreau@ch-demo.mssante.test, " in field.input_value()
    assert [p for p in page.problems if "Content Security Policy" in p] == []  # type: ignore[attr-defined]


def test_find_someone_in_the_directory_and_write_in_one_tap(
    server: str, phone: object, user: MailUser
) -> None:
    page = phone
    sign_in(page, server, user)
    page.click(".topbar a[href='/directory']")  # type: ignore[attr-defined]
    page.wait_for_url("**/directory")  # type: ignore[attr-defined]
    page.locator("#directory-q").press_sequentially("cardio demoville", delay=30)  # type: ignore[attr-defined]
    entry = page.locator(".directory-entry").first  # type: ignore[attr-defined]
    entry.wait_for()
    assert page.url.endswith("/directory")  # type: ignore[attr-defined] # searched in place
    assert "Antoine Moreau" in entry.inner_text()
    write = entry.locator("a.directory-write").first
    box = write.bounding_box()
    assert box is not None and box["height"] >= 44
    write.tap()
    page.wait_for_url("**/compose?to=*")  # type: ignore[attr-defined]
    assert page.input_value("#to") == "antoine.moreau@ch-demo.mssante.test"  # type: ignore[attr-defined]
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # type: ignore[attr-defined]
    assert [p for p in page.problems if "Content Security Policy" in p] == []  # type: ignore[attr-defined]
