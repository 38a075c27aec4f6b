"""User input and server replies are shown as text: never run as a format, never as HTML.

Every notice, warning and error path that can carry data is fed the same hostile strings:
``%`` and ``{`` break a format applied to them, ``<a href hx-get>`` would become a live link (and
an htmx request) in our origin, ``&amp;`` must come back as typed, not decoded once more.
"""

from __future__ import annotations

import ast
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO
from urllib.parse import quote

import pytest
from bs4 import BeautifulSoup
from jinja2 import nodes
from starlette.testclient import TestClient

from dev.env import webmail_env
from dev.stack import Stack
from tests.conftest import (
    ROOT,
    MailUser,
    csrf_token,
    deliver,
    form_value,
    imap_for,
    login,
    new_user,
    post_password,
    simple_mail,
    soup,
    wait_for_messages,
)
from webmail import i18n
from webmail.app import create_app
from webmail.mail.compose import InvalidDraft, parse_recipients
from webmail.settings import Settings
from webmail.templating import templates

HOSTILE = ["%", "%s", "{", "{0}", "}", "<a href=x hx-get=/x>", "&amp;"]
# What fits in an address's local part (no space, no angle bracket, no separator).
HOSTILE_LOCAL_PARTS = ["%", "%s", "{", "{0}", "}", "&amp"]


def assert_inert(page: BeautifulSoup) -> None:
    """Nothing of the hostile strings became markup."""
    assert page.find(attrs={"hx-get": re.compile(r"^/?x$")}) is None
    assert page.find(attrs={"hx-trigger": "load"}) is None
    assert page.find("a", href="x") is None
    assert "Traceback" not in page.get_text()


def alert_text(page: BeautifulSoup) -> str:
    alert = page.find(attrs={"role": "alert"})
    assert alert is not None
    return str(alert.get_text())


# -- the template side, without any server ----------------------------------------------


def test_every_template_translates_constants_only() -> None:
    """`_()` in a template formats with `%` and marks safe: it must only see literals; and
    `.format()` only applies to a translated literal, never to data."""
    env = templates.env
    offenders = []
    for name in env.list_templates(extensions=["html"]):
        source = env.loader.get_source(env, name)[0]  # type: ignore[union-attr]
        for call in env.parse(source).find_all(nodes.Call):
            if isinstance(call.node, nodes.Name) and call.node.name in (
                "_",
                "gettext",
                "ngettext",
            ):
                literal_args = 2 if call.node.name == "ngettext" else 1
                if not all(isinstance(arg, nodes.Const) for arg in call.args[:literal_args]):
                    offenders.append(f"{name}:{call.lineno}")
            if isinstance(call.node, nodes.Getattr) and call.node.attr == "format":
                formatted = call.node.node
                if not (
                    isinstance(formatted, nodes.Call)
                    and isinstance(formatted.node, nodes.Name)
                    and formatted.node.name == "_"
                    and all(isinstance(arg, nodes.Const) for arg in formatted.args)
                ):
                    offenders.append(f"{name}:{call.lineno} .format")
    assert offenders == []


def _is_translated_literal(node: ast.expr) -> bool:
    """``"..."``, or ``_("...")`` / ``i18n._("...")``: a constant, perhaps translated."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return True
    if not isinstance(node, ast.Call) or not node.args:
        return False
    function = node.func
    name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
    return name in ("_", "N_") and _is_translated_literal(node.args[0])


def test_format_is_only_applied_to_constants() -> None:
    """Data inserted before ``.format()`` would be read as a format: ``{`` raises, ``{0}`` leaks."""
    offenders = []
    for path in sorted((ROOT / "webmail").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("format", "format_map")
                and not _is_translated_literal(node.func.value)
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


@pytest.fixture(params=["fr", "en"])
def language(request: pytest.FixtureRequest) -> Iterator[str]:
    token = i18n.current_language.set(request.param)
    yield request.param
    i18n.current_language.reset(token)


@pytest.mark.parametrize("text", HOSTILE)
def test_alerts_show_messages_as_text(text: str, language: str) -> None:
    html = templates.get_template("partials/_alerts.html").render(
        error=f"Refusé : {text}", warning=text, notice=i18n.N_("Message envoyé.")
    )
    page = soup(html)
    assert_inert(page)
    shown = [tag.get_text() for tag in page.find_all("div")]
    expected_notice = "Message sent." if language == "en" else "Message envoyé."
    assert shown == [f"Refusé : {text}", text, expected_notice]


def test_an_empty_message_is_not_the_catalog_header(language: str) -> None:
    assert i18n.shown("") == "" and i18n._("") == ""


# -- login ------------------------------------------------------------------------------


@pytest.mark.parametrize("text", HOSTILE)
def test_login_address_is_given_back_as_typed(client: TestClient, text: str) -> None:
    address = f"dr{text}@medecin.mssante.test"
    response = post_password(client, address, "wrong-password")
    assert response.status_code in (400, 401)
    page = soup(response.text)
    assert_inert(page)
    assert form_value(response.text, "address") == address
    assert alert_text(page)


# -- compose: invalid address, refusals by the real Postfix ------------------------------


@pytest.mark.parametrize("text", HOSTILE)
def test_invalid_recipient_is_named_literally(logged_in: TestClient, text: str) -> None:
    to = f"dr{text}"
    with pytest.raises(InvalidDraft) as refused:
        parse_recipients(to)
    response = logged_in.post(
        "/compose",
        data={
            "csrf_token": csrf_token(logged_in),
            "mode": "new",
            "action": "send",
            "to": to,
            "subject": text,
            "body": f"Corps {text}",
        },
    )
    assert response.status_code == 400
    page = soup(response.text)
    assert_inert(page)
    # The send path also says where the text is kept (a Drafts copy).
    assert alert_text(page).startswith(str(refused.value))
    assert form_value(response.text, "to") == to
    assert form_value(response.text, "subject") == text
    assert page.find("textarea").get_text() == f"Corps {text}"


@pytest.mark.parametrize("text", HOSTILE_LOCAL_PARTS)
def test_refused_address_named_after_sending_to_the_others(
    logged_in: TestClient, stack: Stack, other_user: MailUser, text: str
) -> None:
    refused = f"inconnu{text}@infirmier.mssante.test"
    response = logged_in.post(
        "/compose",
        data={
            "csrf_token": csrf_token(logged_in),
            "mode": "new",
            "action": "send",
            "to": f"{other_user.address}, {refused}",
            "subject": f"Objet {text}",
            "body": "Texte",
        },
    )
    assert response.status_code == 200, response.text
    page = soup(response.text)
    assert_inert(page)
    assert alert_text(page)
    assert refused in [item.strong.get_text() for item in page.select(".refusals li")]
    assert form_value(response.text, "to") == refused
    assert len(wait_for_messages(stack, other_user)) == 1


# -- compose: a hostile SMTP server ------------------------------------------------------

HOSTILE_REPLY = "5.7.1 " + " ".join(HOSTILE) + " <b hx-trigger=load hx-get=/x>piège</b>"


class HostileSmtp:
    """A submission server on loopback that refuses with text chosen to hurt."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.port = self.listener.getsockname()[1]
        self.refuse_data = False
        self.accepted_messages = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            with connection:
                self._talk(connection.makefile("rwb", buffering=0))  # type: ignore[arg-type]

    def _talk(self, stream: BinaryIO) -> None:
        def say(line: str) -> None:
            stream.write(line.encode() + b"\r\n")

        say("220 hostile ESMTP")
        while line := stream.readline():
            verb = line.split(b" ", 1)[0].strip().upper()
            if verb in (b"EHLO", b"HELO"):
                say("250-hostile")
                say("250-AUTH PLAIN")
                say("250 8BITMIME")
            elif verb == b"AUTH":
                say("235 2.7.0 ok")
            elif verb == b"RCPT" and b"refuse" in line:
                say(f"550 {HOSTILE_REPLY}")
            elif verb == b"DATA":
                say("354 go")
                while stream.readline() not in (b".\r\n", b""):
                    pass
                if self.refuse_data:
                    say(f"554 {HOSTILE_REPLY}")
                else:
                    self.accepted_messages += 1
                    say("250 2.0.0 queued")
            elif verb == b"QUIT":
                say("221 bye")
                return
            else:
                say("250 ok")

    def close(self) -> None:
        self.listener.close()


@contextmanager
def hostile_smtp_client(stack: Stack, user: MailUser) -> Iterator[tuple[TestClient, HostileSmtp]]:
    server = HostileSmtp()
    env = webmail_env(
        stack,
        MSS_SMTP_HOST="127.0.0.1",
        MSS_SMTP_PORT=str(server.port),
        MSS_SMTP_TLS="none",
        MSS_UNDO_SEND_SECONDS="0",  # the refusal is shown on the form's answer
    )
    try:
        with TestClient(create_app(Settings.from_env(env)), follow_redirects=False) as client:
            login(client, user)
            yield client, server
    finally:
        server.close()


def assert_reply_shown_literally(page: BeautifulSoup) -> None:
    """The server's words stand in a <code> of their own, apart from our sentences."""
    assert_inert(page)
    shown = [code for code in page.select("main code") if HOSTILE_REPLY in code.get_text()]
    assert len(shown) == 1
    assert shown[0].find(True) is None  # text only, no element at all


def test_smtp_refusal_text_is_shown_as_text(stack: Stack) -> None:
    user = new_user(stack)
    with hostile_smtp_client(stack, user) as (client, server):
        server.refuse_data = True
        response = client.post(
            "/compose",
            data={
                "csrf_token": csrf_token(client),
                "mode": "new",
                "action": "send",
                "to": "a@chu-demo.mssante.test",
                "subject": "Refusé",
                "body": "Texte gardé",
            },
        )
    assert response.status_code == 422
    page = soup(response.text)
    assert_reply_shown_literally(page)
    assert page.find("textarea").get_text() == "Texte gardé"


def test_recipient_refusal_text_after_sending_is_shown_as_text(stack: Stack) -> None:
    user = new_user(stack)
    with hostile_smtp_client(stack, user) as (client, server):
        response = client.post(
            "/compose",
            data={
                "csrf_token": csrf_token(client),
                "mode": "new",
                "action": "send",
                "to": "a@chu-demo.mssante.test, refuse@chu-demo.mssante.test",
                "subject": "Moitié",
                "body": "Texte",
            },
        )
        assert server.accepted_messages == 1
    assert response.status_code == 200
    page = soup(response.text)
    assert_reply_shown_literally(page)
    assert form_value(response.text, "to") == "refuse@chu-demo.mssante.test"


# -- a folder named by the user on the server --------------------------------------------

# No "/" or ".": the leaf name is what is shown, and either may be the hierarchy separator.
FOLDER_NAMES = ["Dossier %s {0} } {", "Patients <a href=x hx-get=x> &amp;"]


@pytest.mark.parametrize("name", FOLDER_NAMES)
def test_folder_name_is_shown_as_text(
    logged_in: TestClient, stack: Stack, user: MailUser, name: str
) -> None:
    on_server = '"' + name.replace("&", "&-") + '"'  # modified UTF-7 (RFC 3501 5.1.3)
    imap = imap_for(stack, user)
    try:
        typ, data = imap.create(on_server)
        assert typ == "OK", data
    finally:
        imap.logout()
    mail = simple_mail("a@chu-demo.mssante.test", user.address, "Classé")
    uid = deliver(stack, user, mail, folder=on_server)
    listing = logged_in.get(f"/mail?folder={quote(name)}")
    assert listing.status_code == 200
    page = soup(listing.text)
    assert_inert(page)
    assert page.select_one(".topbar-title").get_text() == name
    assert page.title.get_text().startswith(name)
    assert name in [tag.get_text() for tag in page.select(".folder-name")]
    shown = logged_in.get(f"/mail/message?folder={quote(name)}&uid={uid}")
    assert shown.status_code == 200
    message_page = soup(shown.text)
    assert_inert(message_page)
    assert message_page.select_one(".topbar-title").get_text() == name


# -- error pages -------------------------------------------------------------------------


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize(
    "path", ["/nowhere/{}", "/mail?folder={}", "/mail/message?folder=INBOX&uid={}"]
)
def test_error_pages_with_hostile_input(logged_in: TestClient, path: str, text: str) -> None:
    response = logged_in.get(path.format(quote(text)))
    assert response.status_code in (400, 404)
    page = soup(response.text)
    assert_inert(page)
    assert page.find("h1").get_text() and page.find("main").find("p").get_text()


def test_no_template_marks_data_safe() -> None:
    """The one `|safe` is the sanitised mail body inside the sandboxed frame."""
    uses = [
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "templates").rglob("*.html")
        if "|safe" in path.read_text()
    ]
    assert uses == ["templates/pages/mail_frame.html"]


def test_error_page_is_translated_where_shown(client: TestClient) -> None:
    client.cookies.set("mss_lang", "en")
    page = soup(client.get("/nowhere").text)
    english = i18n.translations("en")
    assert page.find("h1").get_text() == english.gettext("Introuvable") != "Introuvable"
    assert page.find("main").find("p").get_text() == english.gettext("Cette page n'existe pas.")
