"""Who is outside the list, and the warn-mode confirmation bound to a message's recipients."""

from __future__ import annotations

from tests.trust.samples import whitelist_xml
from webmail.trust.recipients import addresses_in, confirmation, confirmed, domain_of, outside
from webmail.trust.whitelist import parse_bytes

LISTED = parse_bytes(whitelist_xml("medecin.mssante.test", "hôpital.mssante.test"))
SECRET = "s" * 40


def test_outside_keeps_order_and_names_each_address_once() -> None:
    addresses = [
        "a@medecin.mssante.test",
        "b@laposte.example",
        "B@MEDECIN.MSSANTE.TEST",
        "c@xn--hpital-ixa.mssante.test",
        "b@laposte.example",
        "d@cardio.medecin.mssante.test",
        "pas-une-adresse",
        "@medecin.mssante.test",
    ]
    assert outside(LISTED, addresses) == [
        "b@laposte.example",
        "d@cardio.medecin.mssante.test",
        "pas-une-adresse",
        "@medecin.mssante.test",
    ]


def test_the_domain_is_the_part_after_the_last_at() -> None:
    assert domain_of('"x@medecin.mssante.test"@laposte.example') == "laposte.example"
    assert domain_of("a@Medecin.MSSante.Test.") == "medecin.mssante.test"
    assert domain_of("medecin.mssante.test") is None


def test_addresses_being_typed_are_read_leniently() -> None:
    typed = addresses_in("Dr A <a@x.test>; b@y.test,", "b@y.test", "à moitié tap, c@, d@y")
    assert typed == ["a@x.test", "b@y.test"]


def test_a_confirmation_is_bound_to_account_message_and_recipients() -> None:
    token = confirmation(SECRET, "me@x.test", "<m1@x>", ["a@y.test", "b@z.test"], ["b@z.test"])
    # The same recipients in another order or case: the same confirmation.
    same = confirmation(SECRET, "ME@x.test", "<m1@x>", ["B@z.test", "a@y.test"], ["b@z.test"])
    assert confirmed(same, token)
    for changed in [
        confirmation(SECRET, "other@x.test", "<m1@x>", ["a@y.test", "b@z.test"], ["b@z.test"]),
        confirmation(SECRET, "me@x.test", "<m2@x>", ["a@y.test", "b@z.test"], ["b@z.test"]),
        confirmation(SECRET, "me@x.test", "<m1@x>", ["b@z.test"], ["b@z.test"]),
        confirmation(SECRET, "me@x.test", "<m1@x>", ["a@y.test", "b@z.test"], ["a@y.test"]),
        confirmation("t" * 40, "me@x.test", "<m1@x>", ["a@y.test", "b@z.test"], ["b@z.test"]),
    ]:
        assert not confirmed(changed, token)
    assert not confirmed("", token)
    assert not confirmed(token.upper(), token)
