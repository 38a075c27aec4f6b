"""Remote images "always for this sender": offered for senders nothing marks as forged, kept
per account in Redis, honoured by the frame alone, taken back from the account page."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from pathlib import Path

from bs4 import Tag
from redis.asyncio import Redis
from starlette.testclient import TestClient

from dev.stack import Stack
from tests.conftest import MailUser, deliver, login, new_user, simple_mail, soup
from tests.trust.app import webmail
from webmail.mail import mime
from webmail.mail.image_senders import ImageSenders, trusted_sender
from webmail.trust.whitelist import Domain, Whitelist

LOGO = "https://cdn.example/logo.png"
WHITELIST = Whitelist(
    generated="", domains={"labo-demo.mssante.test": Domain("labo-demo.mssante.test")}
)


def letter(to: str, sender: str = "news@labo-demo.mssante.test", **headers: str) -> EmailMessage:
    message = simple_mail(sender, to, "Lettre du laboratoire")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.add_alternative(f'<p>Logo <img src="{LOGO}" alt="logo"></p>', subtype="html")
    return message


def parsed(message: EmailMessage) -> mime.ParsedMessage:
    return mime.parse_message(message.as_bytes())


# -- the judgement, without servers --------------------------------------------------------


def test_a_plain_sender_inside_the_trust_space_is_trusted() -> None:
    message = parsed(letter("a@medecin.mssante.test", sender="Labo <News@Labo-Demo.mssante.test>"))
    assert trusted_sender(message, WHITELIST) == "news@labo-demo.mssante.test"


def test_signs_of_forgery_withhold_the_offer() -> None:
    to = "a@medecin.mssante.test"
    forged = [
        letter(to, sender="news@elsewhere.example"),  # outside the trust space
        letter(to, Sender="someone@else.example"),
        letter(to, Return_Path="<bounce@spammer.example>"),
        letter(to, Return_Path="<>"),
        letter(to, Authentication_Results="mx.mssante.test; dmarc=fail header.from=labo"),
        letter(to, Authentication_Results="mx; spf=softfail smtp.mailfrom=x"),
        letter(to, sender="news@labo-demo.mssante.test, other@labo-demo.mssante.test"),
        letter(to, sender="Labo sans adresse"),
    ]
    for message in forged:
        assert trusted_sender(parsed(message), WHITELIST) is None, message["From"]


def test_aligned_headers_are_accepted() -> None:
    message = letter(
        "a@medecin.mssante.test",
        Sender="news@labo-demo.mssante.test",
        Return_Path="<news@labo-demo.mssante.test>",
        Authentication_Results="mx; dkim=pass; spf=pass; dmarc=pass",
    )
    assert trusted_sender(parsed(message), WHITELIST) == "news@labo-demo.mssante.test"
    # Without a whitelist (a deployment outside the trust space) only the headers count.
    assert trusted_sender(parsed(message), None) == "news@labo-demo.mssante.test"


# -- the store, on the real Redis ---------------------------------------------------------


def test_the_store_is_per_account(stack: Stack) -> None:
    async def scenario() -> None:
        redis = Redis(host="127.0.0.1", port=stack.redis)
        store = ImageSenders(redis)
        try:
            await store.add("A@medecin.mssante.test", "news@labo-demo.mssante.test")
            assert await store.allows("a@medecin.mssante.test", "news@labo-demo.mssante.test")
            assert not await store.allows("b@medecin.mssante.test", "news@labo-demo.mssante.test")
            assert not await store.allows("a@medecin.mssante.test", None)
            assert await store.senders("a@medecin.mssante.test") == ["news@labo-demo.mssante.test"]
            await store.remove("a@medecin.mssante.test", " NEWS@labo-demo.mssante.test")
            assert await store.senders("a@medecin.mssante.test") == []
            assert "a@medecin" not in store.key("a@medecin.mssante.test")  # hashed
        finally:
            await redis.delete(store.key("a@medecin.mssante.test"))
            await redis.aclose()

    asyncio.run(scenario())


# -- the pages ----------------------------------------------------------------------------


def _frame(client: TestClient, uid: int) -> tuple[str, str]:
    frame = client.get(f"/mail/message/frame?folder=INBOX&uid={uid}")
    assert frame.status_code == 200
    images = [str(img.get("src", "")) for img in soup(frame.text).select("img")]
    return ",".join(images), frame.headers["content-security-policy"]


def _always_form(page_html: str) -> Tag | None:
    found = soup(page_html).select_one('form[action="/mail/image-senders"]')
    return found if isinstance(found, Tag) else None


def test_always_for_this_sender_then_take_it_back(
    env: dict[str, str], tmp_path: Path, stack: Stack, user: MailUser
) -> None:
    first = deliver(stack, user, letter(user.address))
    second = deliver(stack, user, letter(user.address))
    with webmail(env, tmp_path) as client:
        login(client, user)
        images, csp = _frame(client, first)
        assert LOGO not in images and "https:" not in csp
        page = client.get(f"/mail/message?folder=INBOX&uid={first}")
        form = _always_form(page.text)
        assert form is not None
        show = soup(page.text).select_one(".remote-banner a[data-frame-src]")
        assert show is not None and "remote=1" in str(show["href"])  # works without script
        fields = {str(i["name"]): str(i.get("value", "")) for i in form.select("input")}

        refused = client.post("/mail/image-senders", data={**fields, "csrf_token": ""})
        assert refused.status_code == 403
        assert LOGO not in _frame(client, first)[0]

        done = client.post("/mail/image-senders", data=fields)
        assert done.status_code == 303
        assert done.headers["location"] == f"/mail/message?folder=INBOX&uid={first}"
        # Every message of that sender, asked for or not, now shows its images.
        images, csp = _frame(client, second)
        assert images == LOGO and "img-src 'self' data: https:" in csp and "sandbox" in csp
        again = soup(client.get(f"/mail/message?folder=INBOX&uid={second}").text)
        assert again.select_one(".remote-allowed") is not None
        assert _always_form(str(again)) is None

        account = soup(client.get("/account").text)
        listed = [s.get_text() for s in account.select("#image-senders .image-sender")]
        assert listed == ["news@labo-demo.mssante.test"]
        take_back = account.select_one(
            '#image-senders form[action="/account/image-senders/remove"]'
        )
        assert take_back is not None
        data = {str(i["name"]): str(i.get("value", "")) for i in take_back.select("input")}
        assert client.post("/account/image-senders/remove", data=data).status_code == 303
        images, csp = _frame(client, second)
        assert LOGO not in images and "https:" not in csp
        assert not soup(client.get("/account").text).select("#image-senders .image-sender")


def test_a_forged_or_outside_sender_is_never_offered(
    env: dict[str, str], tmp_path: Path, stack: Stack, user: MailUser
) -> None:
    outside = deliver(stack, user, letter(user.address, sender="promo@shop.example"))
    spoofed = deliver(stack, user, letter(user.address, Return_Path="<x@spammer.example>"))
    with webmail(env, tmp_path) as client:
        login(client, user)
        for uid in (outside, spoofed):
            page = client.get(f"/mail/message?folder=INBOX&uid={uid}")
            assert soup(page.text).select_one(".remote-banner") is not None
            assert _always_form(page.text) is None
            token = soup(page.text).select_one("input[name=csrf_token]")
            assert token is not None
            posted = client.post(
                "/mail/image-senders",
                data={"csrf_token": str(token["value"]), "folder": "INBOX", "uid": str(uid)},
            )
            assert posted.status_code == 400
            assert LOGO not in _frame(client, uid)[0]


def test_another_users_list_is_never_used(
    env: dict[str, str], tmp_path: Path, stack: Stack, user: MailUser
) -> None:
    colleague = new_user(stack)
    mine = deliver(stack, user, letter(user.address))
    theirs = deliver(stack, colleague, letter(colleague.address))
    with webmail(env, tmp_path) as client:
        login(client, user)
        page = client.get(f"/mail/message?folder=INBOX&uid={mine}")
        form = _always_form(page.text)
        assert form is not None
        fields = {str(i["name"]): str(i.get("value", "")) for i in form.select("input")}
        assert client.post("/mail/image-senders", data=fields).status_code == 303
        assert _frame(client, mine)[0] == LOGO
    with webmail(env, tmp_path) as other:
        login(other, colleague)
        images, csp = _frame(other, theirs)
        assert LOGO not in images and "https:" not in csp
