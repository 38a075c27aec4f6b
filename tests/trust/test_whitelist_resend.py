"""Outside the trust space after a send whose outcome is unknown: the confirmation follows
"Renvoyer quand même" instead of starting the message over."""

from __future__ import annotations

from pathlib import Path

from dev.stack import Stack
from tests.conftest import MailUser, login, new_user, soup, wait_for_messages
from tests.mail.fake_smtp import SILENCE, Script, fake_smtp
from tests.trust.app import count, webmail
from tests.trust.samples import OUTSIDE_DOMAIN
from tests.views.forms import submit


def test_warn_mode_then_an_unknown_outcome_then_a_confirmed_resend(
    env: dict[str, str], tmp_path: Path, stack: Stack, user: MailUser
) -> None:
    stranger = new_user(stack, OUTSIDE_DOMAIN)
    with fake_smtp(Script(relay_port=stack.smtp)) as fake:
        smtp = {
            "MSS_SMTP_HOST": "127.0.0.1",
            "MSS_SMTP_PORT": str(fake.port),
            "MSS_SMTP_TLS": "none",
            "MSS_SMTP_TIMEOUT_SECONDS": "3",
            "MSS_SMTP_DATA_TIMEOUT_SECONDS": "1",
        }
        with webmail(env, tmp_path, MSS_TRUST_OUTSIDE="warn", **smtp) as client:
            login(client, user)
            page = client.get("/compose").text
            warned = submit(client, page, to=stranger.address, subject="Bilan", body="Texte")
            assert warned.status_code == 409
            fake.script.after_dot = SILENCE
            unknown = submit(client, warned.text)
            assert unknown.status_code == 504
            wait_for_messages(stack, stranger)  # it did leave

            # "Renvoyer quand même": the trust space is asked about again, and the answer
            # keeps the resend (a plain send would be refused as already attempted).
            fake.script.after_dot = "250 2.0.0 Ok: queued"
            asked = submit(client, unknown.text, action="resend")
            assert asked.status_code == 409
            html = soup(asked.text)
            assert html.select_one(".outcome-unknown") is not None
            confirm = html.select_one("#recipient-trust button.trust-confirm")
            assert (confirm["name"], confirm["value"]) == ("action", "resend")
            resent = submit(client, asked.text, action="resend")
            assert resent.status_code == 303, resent.text
            assert len(fake.received) == 2
    assert len(wait_for_messages(stack, stranger, count=2)) == 2
    assert count(stack, user, "Drafts") == 0
