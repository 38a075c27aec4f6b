"""axe-core in a Playwright page: the accessibility rules (WCAG 2.1 A/AA and axe's best
practices) run in the real browser, failing a test on any serious or critical violation.

axe is injected as a script, which the app's Content-Security-Policy refuses: the contexts
that use it are opened with ``bypass_csp`` (see ``axe_context``), never the others.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.conftest import ROOT

AXE_SCRIPT = ROOT / "dev" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")
PHONE = {"width": 390, "height": 844}
TABLET = {"width": 820, "height": 1180}
SIZES = {"phone": PHONE, "tablet": TABLET}
THEMES = ("light", "dark")

# The mail frame is sandboxed without scripts: axe cannot enter it and would wait for it.
_RUN = """async () => {
  const result = await axe.run(document, {iframes: false, resultTypes: ["violations"]});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help, url: v.helpUrl,
    nodes: v.nodes.map(n => ({target: n.target.join(" "), html: n.html, summary: n.failureSummary})),
  }));
}"""


@contextmanager
def axe_context(browser: Any, size: str) -> Iterator[Any]:
    """A page at ``size`` (phone: touch, as a phone is) whose CSP lets axe in."""
    phone = size == "phone"
    context = browser.new_context(
        viewport=SIZES[size],
        is_mobile=phone,
        has_touch=phone,
        device_scale_factor=1,
        locale="fr-FR",
        bypass_csp=True,
    )
    try:
        yield context.new_page()
    finally:
        context.close()


def violations(page: Any) -> list[dict[str, Any]]:
    """The serious and critical violations of the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        if not AXE_SCRIPT.exists():
            raise AssertionError(
                "axe-core is missing: run `bash dev/install.sh` (npm ci in dev/axe)"
            )
        page.add_script_tag(path=str(AXE_SCRIPT))
    found: list[dict[str, Any]] = page.evaluate(_RUN)
    return [violation for violation in found if violation["impact"] in BLOCKING]


def describe(found: list[dict[str, Any]]) -> str:
    lines = []
    for violation in found:
        lines.append(
            f"[{violation['impact']}] {violation['id']}: {violation['help']} ({violation['url']})"
        )
        for node in violation["nodes"][:5]:
            lines.append(f"    at {node['target']}: {node['html'][:160]}")
            lines.extend(f"      {line}" for line in node["summary"].splitlines() if line.strip())
    return "\n".join(lines)


def check_themes(page: Any, where: str, problems: list[str]) -> None:
    """Runs axe on the page in both themes; adds what it finds to ``problems``."""
    for theme in THEMES:
        page.emulate_media(color_scheme=theme)
        found = violations(page)
        if found:
            problems.append(f"== {where} ({theme}, {page.url})\n{describe(found)}")
    page.emulate_media(color_scheme="light")


def luminance(colour: str) -> float:
    """WCAG relative luminance of an opaque ``rgb(r, g, b)`` computed colour."""
    assert colour.startswith("rgb("), f"not opaque: {colour}"
    channels = [int(part) / 255 for part in colour[4:-1].split(",")]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(first: str, second: str) -> float:
    """WCAG contrast ratio of two opaque colours."""
    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)
