"""Stage 6, template render: letters/s for the launch campaign's longest template, sandbox on, as a submission drafts them.

Baseline in the same run: the same template and context through a plain (unsandboxed) Jinja2 environment
with the same options, so the ratio is the price of the sandbox and the app's drafting around it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.harness import LAUNCH_CAMPAIGN, prepare, stage


@dataclass
class RenderOptions:
    seconds: float = 2.0


def _rate(function: Callable[[], object], seconds: float) -> tuple[int, float]:
    calls, started = 0, time.perf_counter()
    while True:
        for _ in range(50):
            function()
        calls += 50
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return calls, elapsed


def run(options: RenderOptions, say=print) -> dict:
    from jinja2 import Environment, StrictUndefined

    from webapp.campaigns.service import active_templates, campaign_targets, find_campaign
    from webapp.congress import service as congress
    from webapp.extensions import db
    from webapp.letters.rendering import context_for, render
    from webapp.letters.service import Supporter, draft_letters, target_variables
    from webapp.models import Target

    with stage("render") as bench:
        app = prepare(bench.database, bench.redis_url, congress=True)
        with app.app_context():
            campaign = find_campaign(LAUNCH_CAMPAIGN)
            template = max(active_templates(campaign), key=lambda t: len(t.subject) + len(t.body))
            candidates = [t for t in campaign_targets(campaign) if template.fits(t)]
            if not candidates:  # a template for members of Congress: write to one, as a supporter would
                ids = congress.allowed_legislator_ids("94110")
                candidates = [t for t in (db.session.get(Target, i) for i in sorted(ids)) if t and template.fits(t)]
            target = candidates[0]
            supporter = Supporter(
                "Maria Lopez", "maria@example.org", "94110", "500 Valencia St\nSan Francisco, CA 94110",
                "My grandmother crossed this border with my mother in her arms. I think of her every day.",
            )  # fmt: skip
            say(f"  render: '{template.slug}' ({len(template.body):,} characters) for {target.id} …")
            drafts, drafts_s = _rate(lambda: draft_letters(campaign, template, [target], supporter), options.seconds)
            context = context_for(
                supporter=supporter.variables(), target=target_variables(target),
                campaign={"title": campaign.title, "slug": campaign.slug},
            )  # fmt: skip
            renders, renders_s = _rate(lambda: render(template.subject, template.body, context), options.seconds)
            # Letters are plain text, as in the app: no autoescape to compare against.
            plain = Environment(undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True)  # noqa: S701
            subject, body = plain.from_string(template.subject), plain.from_string(template.body)
            base, base_s = _rate(lambda: (subject.render(context), body.render(context)), options.seconds)
            slug, length, target_id = template.slug, len(template.body), target.id
            db.session.remove()
            db.engine.dispose()
    draft_rate, render_rate, base_rate = drafts / drafts_s, renders / renders_s, base / base_s
    return {
        "template": slug,
        "template_characters": length,
        "target": target_id,
        "letters_per_s": round(draft_rate),  # draft_letters(): what a submission does per letter (two renders)
        "sandboxed_renders_per_s": round(render_rate),
        "baseline_plain_jinja_renders_per_s": round(base_rate),
        "ratio_letters_to_plain_renders": round(draft_rate / base_rate, 3),
        "ratio_sandboxed_to_plain_renders": round(render_rate / base_rate, 3),
    }
