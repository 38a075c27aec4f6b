"""The compose views are split by concept (the form, its first opening, its files, sending
or saving it); what the other views and the routes use still comes from views/compose.py,
as the same objects."""

from __future__ import annotations

import inspect
from pathlib import Path

from webmail.views import compose, compose_files, compose_form, compose_prefill

MODULES = (compose, compose_files, compose_form, compose_prefill)


def test_the_names_other_views_use_are_the_ones_defined_by_concept() -> None:
    assert compose.Origin is compose_form.Origin
    assert compose.Kept is compose_form.Kept
    assert compose.Outcome is compose_form.Outcome
    assert compose.form_page is compose_form.form_page
    assert compose.kept_from is compose_form.kept_from
    assert compose.compose_form is compose_prefill.compose_form
    assert compose.KeptFilesMissing is compose_files.KeptFilesMissing
    for name in compose.__all__:
        assert hasattr(compose, name), name


def test_each_module_stays_small_and_has_its_concept_only() -> None:
    for module in MODULES:
        source = Path(inspect.getfile(module)).read_text()
        assert len(source.splitlines()) <= 400, module.__name__
        assert module.__doc__, module.__name__
    # The form, its opening and its files never send: no SMTP, no ledger.
    for module in (compose_files, compose_form, compose_prefill):
        source = Path(inspect.getfile(module)).read_text()
        assert "smtp" not in source and "outbox" not in source, module.__name__
