"""The rich-text allow-list and its text alternative, with no web framework."""

from __future__ import annotations

import pytest

from webmail.mail import rich_text

HOSTILE = [
    '<script>alert("x")</script>Bonjour',
    '<p onclick="steal()" onmouseover="steal()">Bonjour</p>',
    '<a href="javascript:alert(1)">Bonjour</a>',
    '<a href=" JaVaScRiPt:alert(1)">Bonjour</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD4=">Bonjour</a>',
    '<a href="vbscript:x">Bonjour</a>',
    '<p style="background:url(https://pisteur.example/p.png)">Bonjour</p>',
    "<style>p { background: url(https://pisteur.example/p.png) }</style>Bonjour",
    '<img src="https://pisteur.example/p.png" alt="">Bonjour',
    '<img src=x onerror="steal()">Bonjour',
    '<iframe src="https://pisteur.example/"></iframe>Bonjour',
    '<svg onload="steal()"><use href="https://pisteur.example/#x"/></svg>Bonjour',
    "<math><mtext><table><mglyph><style><img src=x onerror=steal()></style></mglyph>"
    "</table></mtext></math>Bonjour",
    '<form action="https://pisteur.example/"><input name=x></form>Bonjour',
    '<base href="https://pisteur.example/">Bonjour',
    '<link rel="stylesheet" href="https://pisteur.example/s.css">Bonjour',
    '<meta http-equiv="refresh" content="0;url=https://pisteur.example/">Bonjour',
    "<!--[if IE]><script>x</script><![endif]-->Bonjour",
    '<b class="x" id="y" data-x="1">Bonjour</b>',
    '<a href="/relatif">Bonjour</a>',
]
FORBIDDEN = ("script", "on", "javascript", "data:", "url(", "style", "img", "pisteur", "iframe",
             "svg", "class", "id=", "form", "base", "meta", "/relatif", "vbscript")  # fmt: skip


@pytest.mark.parametrize("markup", HOSTILE)
def test_hostile_markup_keeps_only_the_words(markup: str) -> None:
    clean = rich_text.sanitise(markup)
    assert "Bonjour" in clean
    lowered = clean.lower().replace("bonjour", "")
    for word in FORBIDDEN:
        assert word not in lowered, (word, clean)
    # The page sent has inline styles of its own, and nothing of the hostile input.
    page = rich_text.document(clean).lower()
    assert "pisteur" not in page and "script" not in page and "javascript" not in page


def test_the_allowed_subset_survives() -> None:
    markup = (
        "<p><b>Gras</b> <strong>fort</strong> <i>it</i> <em>em</em></p>"
        "<ul><li>un</li></ul><ol><li>deux</li></ol>"
        '<p><a href="https://annuaire.sante.fr/">annuaire</a> <a href="mailto:a@b.fr">a</a></p>'
    )
    assert rich_text.sanitise(markup) == markup


def test_nothing_readable_is_empty() -> None:
    assert rich_text.sanitise("<p><br></p><script>x</script><img src=x>") == ""


def test_the_text_alternative() -> None:
    markup = (
        "<p>Bonjour <b>Docteur</b>,</p><p>Voici le traitement :</p>"
        "<ul><li>Doliprane 1 g</li><li>repos</li></ul>"
        "<ol><li>matin</li><li>soir</li></ol>"
        "<div>Ligne une</div><div>Ligne deux</div>"
        '<p>Voir <a href="https://has-sante.fr/reco">la recommandation</a>, '
        '<a href="https://has-sante.fr">https://has-sante.fr</a> ou '
        '<a href="mailto:sec@chu.fr">sec@chu.fr</a>.</p>'
        "<p>A&amp;B &lt;ok&gt;</p>"
    )
    assert rich_text.to_text(markup) == (
        "Bonjour Docteur,\n\nVoici le traitement :\n\n- Doliprane 1 g\n- repos\n\n"
        "1. matin\n2. soir\n\nLigne une\nLigne deux\n\n"
        "Voir la recommandation <https://has-sante.fr/reco>, https://has-sante.fr ou "
        "sec@chu.fr.\n\nA&B <ok>"
    )


def test_plain_text_becomes_paragraphs_escaped() -> None:
    html = rich_text.from_text("Bonjour <b>,\nligne\n\n> cité & co")
    assert html == "<p>Bonjour &lt;b&gt;,<br>ligne</p><p>&gt; cité &amp; co</p>"
    assert rich_text.to_text(html) == "Bonjour <b>,\nligne\n\n> cité & co"


def test_the_document_round_trips_through_the_sanitiser() -> None:
    clean = rich_text.sanitise("<p>Un</p><ul><li>deux</li></ul>")
    page = rich_text.document(clean)
    assert 'style="' in page and "<!DOCTYPE html>" in page
    assert rich_text.sanitise(page) == clean  # a draft reopened: the same markup
