"""What one session may keep in a process: the mailbox cache's bounds, on real Dovecot.

A clinician paging through a big folder, visiting many folders and opening many messages must
not grow the process without end: hundreds of sessions share it (bench/processes.py measures).
"""

from __future__ import annotations

import datetime as dt
import gc
import tracemalloc
from collections.abc import Iterator

import pytest

from dev.seed import Message, seed_mailbox
from dev.stack import Stack
from tests.conftest import MailUser, new_user, simple_mail
from webmail.mail import by_parts, mailbox
from webmail.mail.connections import ConnectionPool
from webmail.mail.mailbox import MailboxCache
from webmail.settings import Settings

INBOX_MESSAGES = 1_300
FOLDERS = 13
PAGE = 50


def messages(user: MailUser) -> Iterator[Message]:
    start = dt.datetime(2026, 1, 1, 8, 0, tzinfo=dt.UTC)
    for n in range(INBOX_MESSAGES):
        mail = simple_mail("labo@chu.mssante.test", user.address, f"Résultat {n}")
        yield "INBOX", (), start + dt.timedelta(minutes=n), mail.as_bytes()
    for folder in range(FOLDERS):
        for n in range(3):
            mail = simple_mail("a@chu.mssante.test", user.address, f"Dossier {folder}-{n}")
            yield f"Patient {folder:02d}", (), start, mail.as_bytes()


@pytest.fixture(scope="module")
def big(stack: Stack) -> MailUser:
    user = new_user(stack)
    seed_mailbox(stack.imap_host, stack.imap, stack.ca_cert, user.address, user.password,
                 messages(user))  # fmt: skip
    return user


def traced() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


async def test_paging_through_a_big_folder_keeps_a_bounded_cache(
    settings: Settings, big: MailUser
) -> None:
    pool = ConnectionPool(settings)
    sizes = {}
    try:
        async with pool.use("s", big.address, big.password) as session:
            await mailbox.list_page(session.imap, session.cache, "INBOX", 1, PAGE)
            tracemalloc.start()
            base = traced()
            for number in range(1, INBOX_MESSAGES // PAGE + 1):
                page = await mailbox.list_page(session.imap, session.cache, "INBOX", number, PAGE)
                # Every page is whole, cached or not.
                assert len(page.messages) == PAGE
                assert (
                    page.messages[0].subject
                    == f"Résultat {INBOX_MESSAGES - 1 - (number - 1) * PAGE}"
                )
                held = session.cache.envelope_count()
                assert held <= MailboxCache.MAX_ENVELOPES_PER_FOLDER
                sizes[number] = traced() - base
            tracemalloc.stop()
            # Past the bound (page 10) the cache no longer grows: pages 12 and 26 weigh the same.
            assert sizes[26] - sizes[12] < 0.1 * sizes[12], sizes
            # The page the user is on is still served from the cache: no new fetch needed.
            again = await mailbox.list_page(session.imap, session.cache, "INBOX", 26, PAGE)
            assert [m.uid for m in again.messages] == [m.uid for m in page.messages]
    finally:
        await pool.close_all()


async def test_many_folders_and_messages_opened_stay_within_the_session_bounds(
    settings: Settings, big: MailUser
) -> None:
    pool = ConnectionPool(settings)
    try:
        async with pool.use("s", big.address, big.password) as session:
            cache = session.cache
            for number in range(1, 21):  # 1,000 envelopes of the inbox...
                await mailbox.list_page(session.imap, cache, "INBOX", number, PAGE)
            for folder in range(FOLDERS):  # ...then thirteen other folders
                name = f"Patient {folder:02d}"
                page = await mailbox.list_page(session.imap, cache, name, 1, PAGE)
                assert [m.subject for m in page.messages][-1] == f"Dossier {folder}-0"
                assert len(cache.folders) <= MailboxCache.MAX_FOLDERS
                assert cache.envelope_count() <= MailboxCache.MAX_ENVELOPES
            # The least recently used folder (the inbox) went first; it comes back when asked.
            assert "INBOX" not in cache.folders
            page = await mailbox.list_page(session.imap, cache, "INBOX", 1, PAGE)
            assert page.total == INBOX_MESSAGES and len(page.messages) == PAGE
            uids = await mailbox.sorted_folder(session.imap, cache, "INBOX")
            for uid in uids[: by_parts.Overviews.SIZE + 20]:
                assert await by_parts.overview(session.imap, cache.overviews, uid) is not None
            assert len(cache.overviews._held) == by_parts.Overviews.SIZE
    finally:
        await pool.close_all()


async def test_the_process_bound_empties_the_least_recently_used_caches(
    settings: Settings, stack: Stack, big: MailUser
) -> None:
    other = new_user(stack)
    seed_mailbox(stack.imap_host, stack.imap, stack.ca_cert, other.address, other.password,
                 (m for m in messages(other) if m[0] == "INBOX"))  # fmt: skip
    pool = ConnectionPool(settings)
    try:
        for key, user in (("old", big), ("recent", other)):
            async with pool.use(key, user.address, user.password) as session:
                for number in range(1, 5):
                    await mailbox.list_page(session.imap, session.cache, "INBOX", number, PAGE)
        caches = {key: pool._entries[key].cache for key in ("old", "recent")}
        assert all(cache.envelope_count() == 200 for cache in caches.values())
        # Room for one session's envelopes: the older one's cache goes, its connection stays.
        assert pool.trim_caches(limit=250) == 1
        assert pool._entries["old"].cache.envelope_count() == 0
        assert pool._entries["recent"].cache is caches["recent"]
        assert pool.open_connections() == 2
        async with pool.use("old", big.address, big.password) as session:
            page = await mailbox.list_page(session.imap, session.cache, "INBOX", 2, PAGE)
            assert len(page.messages) == PAGE
        assert pool.trim_caches(limit=10_000) == 0
    finally:
        await pool.close_all()
