"""Sign-in from the phone (webmail/auth/ciba.py) against the real PSC look-alike, its dev
phone and Redis: approve, deny, expiry, unknown ids, polling pace, and requests that are
not the browser's own."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from redis.asyncio import Redis

from dev.psc import PscProvider
from dev.psc_phone import DevPhone
from dev.stack import Stack
from tests.conftest import MailUser
from tests.psc_browser import DEMO_LOGIN, psc_config
from webmail.auth import ciba
from webmail.auth.ciba import CibaConfig, Outcome, PhoneSignIn, TooManyPhoneStarts, national_id
from webmail.auth.oidc import PscClient, PscRefused, PscUnavailable
from webmail.auth.oidc_http import ProviderUnreachable


@pytest.fixture
async def redis(stack: Stack) -> AsyncIterator[Redis]:
    client = Redis.from_url(f"redis://127.0.0.1:{stack.redis}/0")
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def phone_sign_in(psc: PscProvider, redis: Redis) -> PhoneSignIn:
    return PhoneSignIn(PscClient(psc_config(psc), redis), redis, CibaConfig())


@pytest.fixture
def phone(psc: PscProvider) -> DevPhone:
    return DevPhone(psc)


def practitioner(phone: DevPhone, user: MailUser, **knobs: int) -> str:
    """A fresh national id at the provider, for ``user``'s mailbox."""
    nid = "8" + "".join(secrets.choice("0123456789") for _ in range(11))
    phone.register(nid, user.address, **knobs)
    return nid


def network() -> str:
    """A network of its own for each test: the start limits count per network."""
    return f"198.51.100.{secrets.randbelow(250) + 1}/32-{secrets.token_hex(4)}"


def binding() -> str:
    return secrets.token_urlsafe(32)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("899700000001", "899700000001"),
        ("99700000001", "899700000001"),  # the RPPS alone, as on the CPS card
        (" 8 99 70 00 00 001 ", "899700000001"),
        ("0751234567", "0751234567"),
        ("2A1234567", "02A1234567"),  # an ADELI number of Corsica
        ("02b1234567", "02B1234567"),
        ("", None),
        ("8997000000012", None),
        ("999700000001", None),
        ("８９９７０００００００１", None),  # full-width digits: not ASCII
        ("899700000001' OR '1'='1", None),
        ("dr.martin@medecin.mssante.test", None),
        ("1" * 10_000, None),
    ],
)
def test_national_ids_are_read_strictly(typed: str, expected: str | None) -> None:
    assert national_id(typed) == expected


def test_binding_codes_are_short_and_unambiguous() -> None:
    codes = {ciba.binding_code() for _ in range(200)}
    assert len(codes) > 190
    assert all(len(code) == 4 and set(code) <= set(ciba.CODE_ALPHABET) for code in codes)
    assert not set("01IOLSB5Z2") & set(ciba.CODE_ALPHABET)


async def test_offered_only_when_advertised_and_allowed(
    phone_sign_in: PhoneSignIn, psc: PscProvider, redis: Redis
) -> None:
    assert await phone_sign_in.available() and phone_sign_in.offered
    off = PhoneSignIn(phone_sign_in.psc, redis, CibaConfig(enabled=False))
    assert not await off.available() and not off.offered

    class WithoutCiba(PscClient):
        async def metadata(self) -> dict[str, object]:
            document = dict(await super().metadata())
            del document["backchannel_authentication_endpoint"]
            return document

    plain = PhoneSignIn(WithoutCiba(psc_config(psc), redis), redis, CibaConfig())
    assert plain.offered  # not known yet: the button shows, the page checks
    assert not await plain.available()
    assert not plain.offered


async def test_approved_on_the_phone_signs_in_once(
    phone_sign_in: PhoneSignIn, phone: DevPhone, user: MailUser, redis: Redis
) -> None:
    nid = practitioner(phone, user)
    browser = binding()
    waiting = await phone_sign_in.start(browser, nid, network())
    on_phone = phone.pending(nid)
    assert on_phone.binding_message == waiting.code
    assert waiting.interval == 1 and waiting.expires_at > time.time() + 60
    assert (await phone_sign_in.poll(browser)).outcome is Outcome.PENDING
    phone.approve(on_phone)
    await asyncio.sleep(1.3)
    done = await phone_sign_in.poll(browser)
    assert done.outcome is Outcome.APPROVED and done.signed_in is not None
    assert done.signed_in.identity.national_id == nid
    assert done.signed_in.identity.mailbox == user.address
    assert done.signed_in.tokens.access_token and done.signed_in.tokens.refresh_token
    # Used: the browser has no request any more, and Redis keeps nothing of it.
    assert (await phone_sign_in.poll(browser)).outcome is Outcome.UNKNOWN
    assert await redis.exists(ciba.PENDING_PREFIX + ciba._digest(browser)) == 0
    assert phone.requests(nid)[0].state == "consumed"


async def test_denied_on_the_phone(
    phone_sign_in: PhoneSignIn, phone: DevPhone, user: MailUser
) -> None:
    nid = practitioner(phone, user)
    browser = binding()
    await phone_sign_in.start(browser, nid, network())
    phone.deny(phone.pending(nid))
    denied = await phone_sign_in.poll(browser)
    assert (denied.outcome, denied.national_id) == (Outcome.DENIED, nid)
    assert (await phone_sign_in.poll(browser)).outcome is Outcome.UNKNOWN


async def test_a_request_nobody_answers_expires(
    phone_sign_in: PhoneSignIn, phone: DevPhone, user: MailUser
) -> None:
    nid = practitioner(phone, user, expires_in=2)
    browser = binding()
    waiting = await phone_sign_in.start(browser, nid, network())
    assert waiting.expires_at <= time.time() + 2
    await asyncio.sleep(2.2)
    assert (await phone_sign_in.poll(browser)).outcome is Outcome.EXPIRED
    assert (await phone_sign_in.poll(browser)).outcome is Outcome.UNKNOWN


async def test_the_providers_expired_token_is_expired(
    phone_sign_in: PhoneSignIn, phone: DevPhone, user: MailUser, redis: Redis
) -> None:
    """The provider's own verdict, before our deadline says so (clocks differ)."""
    nid = practitioner(phone, user, expires_in=1)
    browser = binding()
    await phone_sign_in.start(browser, nid, network())
    key = ciba.PENDING_PREFIX + ciba._digest(browser)
    # Our copy believes it has a minute left.
    raw = await redis.get(key)
    assert raw is not None
    await redis.set(key, _later(raw, 60), keepttl=True)
    await asyncio.sleep(1.5)
    expired = await phone_sign_in.poll(browser)
    assert (expired.outcome, expired.reason) == (Outcome.EXPIRED, "expired_token")


def _later(raw: bytes, seconds: int) -> bytes:
    record = json.loads(raw)
    record["expires_at"] += seconds
    return json.dumps(record).encode()


async def test_unknown_national_id_is_refused_as_psc_says(
    phone_sign_in: PhoneSignIn, phone: DevPhone
) -> None:
    nobody = unknown_national_id()
    with pytest.raises(PscRefused) as refused:
        await phone_sign_in.start(binding(), nobody, network())
    assert refused.value.reason == "unknown_user_id"
    assert phone.requests(nobody) == []


async def test_a_malformed_id_never_reaches_the_provider(
    phone_sign_in: PhoneSignIn, phone: DevPhone
) -> None:
    before = len(phone.requests())
    with pytest.raises(PscRefused) as refused:
        await phone_sign_in.start(binding(), "8997-abc", network())
    assert refused.value.reason == "national_id_invalid"
    assert len(phone.requests()) == before


async def test_polling_faster_than_the_interval_does_not_hammer_the_provider(
    phone_sign_in: PhoneSignIn, phone: DevPhone, user: MailUser
) -> None:
    nid = practitioner(phone, user)
    browser = binding()
    await phone_sign_in.start(browser, nid, network())
    began = time.monotonic()
    outcomes = []
    while time.monotonic() - began < 2.0:
        # Several tabs, or a script: concurrent polls too.
        polls = await asyncio.gather(*(phone_sign_in.poll(browser) for _ in range(5)))
        outcomes += [poll.outcome for poll in polls]
        await asyncio.sleep(0.05)
    elapsed = time.monotonic() - began
    assert len(outcomes) > 50 and set(outcomes) == {Outcome.PENDING}
    on_phone = phone.pending(nid)
    # One poll at the start, then one per interval (1 s, plus the margin).
    assert 1 <= on_phone.polls <= 1 + int(elapsed / (1 + ciba.POLL_MARGIN_SECONDS))
    # The provider never had to say slow_down.
    assert on_phone.interval == 1


async def test_slow_down_lengthens_the_interval_for_good(
    phone_sign_in: PhoneSignIn, phone: DevPhone, user: MailUser, redis: Redis
) -> None:
    nid = practitioner(phone, user)
    browser = binding()
    await phone_sign_in.start(browser, nid, network())
    assert (await phone_sign_in.poll(browser)).outcome is Outcome.PENDING
    # As if another instance had forgotten the pace: the provider sees two polls at once.
    await redis.delete(ciba.POLL_PREFIX + ciba._digest(browser))
    slowed = await phone_sign_in.poll(browser)
    assert slowed.outcome is Outcome.PENDING and slowed.waiting is not None
    assert slowed.waiting.interval == 1 + ciba.SLOW_DOWN_SECONDS
    gap = await redis.pttl(ciba.POLL_PREFIX + ciba._digest(browser))
    assert 5000 < gap <= 6250
    assert (await phone_sign_in.waiting(browser)) == slowed.waiting
    assert phone.pending(nid).polls == 2


async def test_another_browser_cannot_poll_or_finish_the_request(
    phone_sign_in: PhoneSignIn, phone: DevPhone, user: MailUser
) -> None:
    nid = practitioner(phone, user)
    owner, intruder = binding(), binding()
    await phone_sign_in.start(owner, nid, network())
    phone.approve(phone.pending(nid))
    assert (await phone_sign_in.poll(intruder)).outcome is Outcome.UNKNOWN
    assert (await phone_sign_in.poll("")).outcome is Outcome.UNKNOWN
    assert phone.requests(nid)[0].polls == 0
    done = await phone_sign_in.poll(owner)
    assert done.outcome is Outcome.APPROVED


async def test_tokens_of_another_practitioner_are_refused(
    phone_sign_in: PhoneSignIn,
    phone: DevPhone,
    user: MailUser,
    other_user: MailUser,
    redis: Redis,
) -> None:
    """A request record pointing at someone else's auth_req_id (however it got there)
    opens nothing: the identity must be the national id asked for."""
    mine, theirs = practitioner(phone, user), practitioner(phone, other_user)
    browser, other_browser = binding(), binding()
    await phone_sign_in.start(browser, mine, network())
    await phone_sign_in.start(other_browser, theirs, network())
    phone.approve(phone.pending(theirs))
    mine_key = ciba.PENDING_PREFIX + ciba._digest(browser)
    other_record = await redis.get(ciba.PENDING_PREFIX + ciba._digest(other_browser))
    assert other_record is not None
    swapped = other_record.replace(theirs.encode(), mine.encode())
    await redis.set(mine_key, swapped, keepttl=True)
    refused = await phone_sign_in.poll(browser)
    assert (refused.outcome, refused.reason) == (Outcome.REFUSED, "national_id_mismatch")
    # And the provider will not give the same request's tokens twice.
    replayed = await phone_sign_in.poll(other_browser)
    assert replayed.outcome is Outcome.REFUSED and replayed.reason == "token_invalid_grant"


async def test_an_approval_below_eidas1_is_refused(
    phone_sign_in: PhoneSignIn, phone: DevPhone, user: MailUser
) -> None:
    nid = practitioner(phone, user)
    browser = binding()
    await phone_sign_in.start(browser, nid, network())
    phone.approve(phone.pending(nid), acr="eidas0")
    refused = await phone_sign_in.poll(browser)
    assert (refused.outcome, refused.reason) == (Outcome.REFUSED, "id_token_acr")


async def test_a_cancelled_request_opens_nothing_when_approved_later(
    phone_sign_in: PhoneSignIn, phone: DevPhone, user: MailUser
) -> None:
    nid = practitioner(phone, user)
    browser = binding()
    await phone_sign_in.start(browser, nid, network())
    await phone_sign_in.cancel(browser)
    phone.approve(phone.pending(nid))
    assert (await phone_sign_in.poll(browser)).outcome is Outcome.UNKNOWN
    assert phone.requests(nid)[0].polls == 0


async def test_starts_are_limited_per_national_id(
    phone_sign_in: PhoneSignIn, phone: DevPhone, user: MailUser
) -> None:
    nid = practitioner(phone, user)
    for _ in range(ciba.STARTS_PER_NATIONAL_ID):
        await phone_sign_in.start(binding(), nid, network())
    with pytest.raises(TooManyPhoneStarts) as refused:
        await phone_sign_in.start(binding(), nid, network())
    assert refused.value.per == "national_id"
    assert len(phone.requests(nid)) == ciba.STARTS_PER_NATIONAL_ID


async def test_starts_are_limited_per_network(phone_sign_in: PhoneSignIn, phone: DevPhone) -> None:
    here = network()
    before = len(phone.requests(DEMO_LOGIN))
    for _ in range(ciba.STARTS_PER_NETWORK):
        with pytest.raises(PscRefused):  # unknown ids: each one still counts
            await phone_sign_in.start(binding(), unknown_national_id(), here)
    with pytest.raises(TooManyPhoneStarts) as refused:
        await phone_sign_in.start(binding(), DEMO_LOGIN, here)
    assert refused.value.per == "network"
    assert len(phone.requests(DEMO_LOGIN)) == before


def unknown_national_id() -> str:
    return "81" + "".join(secrets.choice("0123456789") for _ in range(10))


async def test_an_unreachable_provider_is_unavailable(psc: PscProvider, redis: Redis) -> None:
    dead = replace(psc_config(psc), discovery_url="https://127.0.0.1:9/.well-known/x", timeout=2)
    phone_sign_in = PhoneSignIn(PscClient(dead, redis), redis, CibaConfig())
    with pytest.raises(PscUnavailable):
        await phone_sign_in.available()
    with pytest.raises(PscUnavailable):
        await phone_sign_in.start(binding(), DEMO_LOGIN, network())


async def test_a_poll_the_provider_does_not_answer_keeps_the_request_and_the_pace(
    phone_sign_in: PhoneSignIn,
    phone: DevPhone,
    user: MailUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    nid = practitioner(phone, user)
    browser = binding()
    await phone_sign_in.start(browser, nid, network())

    async def unreachable(*args: object, **kwargs: object) -> None:
        raise ProviderUnreachable("connection reset")

    monkeypatch.setattr(phone_sign_in.psc._http, "post_form", unreachable)
    with pytest.raises(PscUnavailable):
        await phone_sign_in.poll(browser)
    # The next poll within the interval does not try again.
    assert (await phone_sign_in.poll(browser)).outcome is Outcome.PENDING
    monkeypatch.undo()
    phone.approve(phone.pending(nid))
    await asyncio.sleep(1.3)
    assert (await phone_sign_in.poll(browser)).outcome is Outcome.APPROVED


async def test_a_slow_answer_is_not_polled_again_meanwhile(
    phone_sign_in: PhoneSignIn,
    phone: DevPhone,
    user: MailUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A second poll while the provider is still issuing the tokens would look like a
    replay to it (oidc-provider then revokes the grant): none goes out before the answer."""
    nid = practitioner(phone, user)
    browser = binding()
    await phone_sign_in.start(browser, nid, network())
    phone.approve(phone.pending(nid))
    http = phone_sign_in.psc._http
    post_form = http.post_form

    async def slow(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(2.0)  # longer than the interval
        return await post_form(*args, **kwargs)

    monkeypatch.setattr(http, "post_form", slow)
    first = asyncio.create_task(phone_sign_in.poll(browser))
    await asyncio.sleep(1.6)
    meanwhile = await phone_sign_in.poll(browser)
    assert meanwhile.outcome is Outcome.PENDING
    assert (await first).outcome is Outcome.APPROVED
    assert phone.requests(nid)[0].polls == 1
