"""axe-core in the browser tests: every supporter page state is checked, and serious or critical problems fail.

axe-core comes with the `axe-playwright-python` package (requirements-dev.txt), which ships its `axe.min.js`; the tests
read that file and run it in the page, so nothing is fetched at test time. It is evaluated through the DevTools
protocol, which the page's Content-Security-Policy (`script-src 'self'`) does not apply to.
"""

from __future__ import annotations

from pathlib import Path

import axe_playwright_python

AXE_SOURCE = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text(encoding="utf-8")
FAILING_IMPACTS = ("serious", "critical")


def axe_problems(page) -> list[str]:
    """Serious and critical axe-core violations on the page as it is now, one line per element."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_SOURCE)
    result = page.evaluate("async () => await window.axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} — {node['target']}"
        for violation in result["violations"]
        if violation["impact"] in FAILING_IMPACTS
        for node in violation["nodes"]
    ]


def check_accessible(page, state: str) -> None:
    problems = axe_problems(page)
    assert not problems, f"{state} ({page.url}):\n" + "\n".join(problems)
