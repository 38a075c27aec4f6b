"""Conversations: the app's threading, the server's (UID THREAD) and quoted text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest

from dev.stack import Stack
from tests.conftest import MailUser, deliver
from tests.mail.test_watch import direct
from webmail.mail.threads import (
    ThreadHeaders,
    base_subject,
    conversation_of,
    conversations,
    quoted_blocks,
    thread,
)

START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def message(
    uid: int,
    subject: str,
    *,
    hours: float = 0,
    own: str | None = None,
    parents: tuple[str, ...] = (),
) -> ThreadHeaders:
    return ThreadHeaders(
        uid=uid,
        message_id=own if own is not None else f"<m{uid}@x>",
        parent_ids=parents,
        subject=subject,
        date=START + timedelta(hours=hours),
    )


@pytest.mark.parametrize(
    "subject, base, marked",
    [
        ("Compte rendu", "compte rendu", False),
        ("Re: Compte rendu", "compte rendu", True),
        ("RE : RE: Fwd: Compte  rendu", "compte rendu", True),
        ("TR: Re[2]: Compte rendu", "compte rendu", True),
        ("[CHU] Re: Compte rendu (fwd)", "compte rendu", True),
        ("[urgent]", "[urgent]", False),
        ("Réponse du laboratoire", "réponse du laboratoire", False),  # "Ré" is not "Re:"
    ],
)
def test_base_subject(subject: str, base: str, marked: bool) -> None:
    assert base_subject(subject) == (base, marked)


def test_replies_follow_their_references_newest_last() -> None:
    threads = thread(
        [
            message(1, "Bilan", hours=0),
            message(2, "Autre chose", hours=1),
            message(3, "Re: Bilan", hours=2, parents=("<m1@x>",)),
            message(4, "Re: Re: Bilan", hours=3, parents=("<m1@x>", "<m3@x>")),
        ]
    )
    assert threads == [[1, 3, 4], [2]]  # the conversation with the newest message first


def test_a_missing_parent_still_groups_its_children() -> None:
    # The original was deleted (or is in another folder): both replies name it.
    threads = thread(
        [
            message(5, "Re: Ordonnance", hours=1, parents=("<gone@x>",)),
            message(6, "Re: Ordonnance", hours=2, parents=("<gone@x>", "<m5@x>")),
            message(7, "Re: Ordonnance", hours=3, parents=("<gone@x>",)),
        ]
    )
    assert threads == [[5, 6, 7]]


def test_reply_variants_without_references_join_by_subject() -> None:
    threads = thread(
        [
            message(1, "Résultats de Mme Durand", hours=0),
            message(2, "Re: RE: Fwd: Résultats de Mme Durand", hours=5),
            message(3, "TR: Résultats de Mme Durand", hours=30),
        ]
    )
    assert threads == [[1, 2, 3]]


def test_same_subject_far_apart_in_time_is_two_conversations() -> None:
    threads = thread(
        [
            message(1, "Compte rendu", hours=0),
            message(2, "Compte rendu", hours=24 * 90),  # another patient, three months later
            message(3, "Re: Compte rendu", hours=24 * 200),  # a reply with no References, later
        ]
    )
    assert sorted(threads) == [[1], [2], [3]]


def test_two_originals_with_the_same_subject_the_same_day_stay_apart() -> None:
    # Neither is a reply: two letters titled alike are not one conversation.
    assert sorted(thread([message(1, "Courrier", hours=0), message(2, "Courrier", hours=2)])) == [
        [1],
        [2],
    ]


def test_hostile_headers_cannot_loop_or_merge_by_id() -> None:
    threads = thread(
        [
            # Each names the other as parent, one names itself, two share a Message-ID.
            message(1, "a", own="<a@x>", parents=("<b@x>",)),
            message(2, "b", own="<b@x>", parents=("<a@x>",)),
            message(3, "c", own="<c@x>", parents=("<c@x>",)),
            message(4, "d", own="<c@x>"),
            message(5, "e", own=None, parents=("<b@x>", "<a@x>", "<b@x>")),
        ]
    )
    assert sorted(uid for group in threads for uid in group) == [1, 2, 3, 4, 5]
    assert [3] in threads and [4] in threads


def test_conversation_of_a_message_alone() -> None:
    assert conversation_of([[1, 2], [3]], 2) == [1, 2]
    assert conversation_of([[1, 2]], 9) == [9]


def test_quoted_text_is_told_apart() -> None:
    text = (
        "Bonjour,\n\nMerci, je le vois jeudi.\n\n"
        "Le lun. 2 nov. 2026 à 10:00, Dr Martin <martin@chu.mssante.fr>\na écrit :\n"
        "> Pouvez-vous voir M. Durand ?\n> Son bilan est joint.\n\nCordialement,\nDr Leroy"
    )
    blocks = quoted_blocks(text)
    assert [block.quoted for block in blocks] == [False, True, False]
    assert blocks[1].text.startswith("Le lun. 2 nov.")
    assert blocks[1].text.endswith("> Son bilan est joint.")
    assert "Cordialement" in blocks[2].text


def test_outlook_originals_and_english_attributions() -> None:
    outlook = quoted_blocks("Vu.\n-----Message d'origine-----\nDe : X\nObjet : Bilan\n\nTexte")
    assert [block.quoted for block in outlook] == [False, True]
    english = quoted_blocks("Seen.\nOn Mon, 2 Nov 2026, X wrote:\n> hello")
    assert [block.quoted for block in english] == [False, True]
    assert english[1].text.startswith("On Mon")


def test_a_line_ending_in_a_colon_is_not_an_attribution() -> None:
    blocks = quoted_blocks("Voici ce que le patient a écrit :\n> j'ai mal")
    assert blocks[0] == quoted_blocks("Voici ce que le patient a écrit :")[0]
    assert not blocks[0].quoted and blocks[1].quoted


def test_no_quote_no_fold() -> None:
    assert [block.quoted for block in quoted_blocks("Bonjour\n\nÀ jeudi")] == [False]


def mail(subject: str, own: str, parents: str = "", day: int = 2) -> EmailMessage:
    built = EmailMessage()
    built["From"] = "dr.martin@chu-demo.mssante.test"
    built["To"] = "x@medecin.mssante.test"
    built["Subject"] = subject
    built["Date"] = f"Mon, {day:02d} Nov 2026 10:00:00 +0100"
    built["Message-ID"] = own
    if parents:
        built["References"] = parents
        built["In-Reply-To"] = parents.split()[-1]
    built.set_content("Texte")
    return built


def deliver_a_thread(stack: Stack, user: MailUser) -> list[int]:
    return [
        deliver(stack, user, mail("Bilan de M. Durand", "<t1@x>")),
        deliver(stack, user, mail("Autre patient", "<o1@x>")),
        deliver(stack, user, mail("Re: Bilan de M. Durand", "<t2@x>", "<t1@x>")),
        # Its parent never reached this mailbox.
        deliver(stack, user, mail("Re: Re: Bilan de M. Durand", "<t4@x>", "<t1@x> <t3@x>")),
    ]


@pytest.mark.parametrize("server_threads", [True, False])
async def test_threads_on_dovecot_with_and_without_thread(
    stack: Stack, user: MailUser, server_threads: bool
) -> None:
    first, other, reply, late = deliver_a_thread(stack, user)
    async with direct(stack, user) as imap:
        assert imap.has_capability("THREAD=REFERENCES")
        if not server_threads:
            imap._protocol.capabilities.discard("THREAD=REFERENCES")
        threads = await conversations(imap, "INBOX")
    assert threads == [[first, reply, late], [other]]
