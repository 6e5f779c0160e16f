"""Stage 6, template render: letters/s for the launch campaign's longest template, as a submission drafts them.

Every render runs in a render process (webapp/core/rendering.py: a pool of children with hard memory and CPU
limits), so this stage measures what that costs, against two baselines in the same run:

- the same sandbox in this process, as every render ran before the render processes (sandbox.render_letter,
  and sandbox.handle for a submission's two renders): the ratio is the price of the process boundary;
- the same template and context through a plain (unsandboxed) Jinja2 environment with the same options: the
  price of the sandbox and of drafting.

And the same with 4 threads at once, as a gunicorn worker's threads would render: in-process renders share one
interpreter lock; render processes run beside it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.harness import LAUNCH_CAMPAIGN, prepare, stage


@dataclass
class RenderOptions:
    seconds: float = 2.0
    threads: int = 4


def _rate(function: Callable[[], object], seconds: float) -> tuple[int, float]:
    calls, started = 0, time.perf_counter()
    while True:
        for _ in range(50):
            function()
        calls += 50
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return calls, elapsed


def _threaded_rate(function: Callable[[], object], seconds: float, threads: int) -> float:
    counts = [0] * threads

    def work(index: int) -> None:
        counts[index] = _rate(function, seconds)[0]

    started = time.perf_counter()
    workers = [threading.Thread(target=work, args=(index,)) for index in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts) / (time.perf_counter() - started)


def run(options: RenderOptions, say=print) -> dict:
    from jinja2 import Environment, StrictUndefined

    from webapp.campaigns.service import active_templates, campaign_targets, find_campaign
    from webapp.congress import service as congress
    from webapp.core import sandbox
    from webapp.core.rendering import RenderPool, context_for, target_variables
    from webapp.extensions import db
    from webapp.letters.drafting import Supporter, draft_letters
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
            source = template.full_body  # what draft_letters renders (framed when the letter asks for it)
            say(f"  render: '{template.slug}' ({len(source):,} characters) for {target.id} …")
            drafts, drafts_s = _rate(lambda: draft_letters(campaign, template, [target], supporter), options.seconds)
            campaign_vars = {"title": campaign.title, "slug": campaign.slug}
            context = context_for(
                supporter=supporter.variables(), target=target_variables(target), campaign=campaign_vars
            )
            bare = context_for(
                supporter=supporter.variables(with_note=False), target=target_variables(target), campaign=campaign_vars
            )
            # A submission's request, as draft_letters sends it: the letter, and the same without the note.
            request = {"op": "render", "jobs": [[template.subject, source, c] for c in (context, bare)]}
            in_process, in_process_s = _rate(lambda: sandbox.handle(request), options.seconds)
            pool = RenderPool(size=options.threads)
            try:
                pool.render_many([(template.subject, source, context)])  # start one process before timing
                pooled, pooled_s = _rate(
                    lambda: pool.render_many([(template.subject, source, context)]), options.seconds
                )
                local, local_s = _rate(
                    lambda: sandbox.render_letter(template.subject, source, context), options.seconds
                )
                threaded_pool = _threaded_rate(
                    lambda: pool.render_many([(template.subject, source, context)]),
                    options.seconds,
                    options.threads,
                )
                threaded_local = _threaded_rate(
                    lambda: sandbox.render_letter(template.subject, source, context),
                    options.seconds,
                    options.threads,
                )
            finally:
                pool.close()
            # Letters are plain text, as in the app: no autoescape to compare against.
            plain = Environment(undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True)  # noqa: S701
            subject, body = plain.from_string(template.subject), plain.from_string(source)
            base, base_s = _rate(lambda: (subject.render(context), body.render(context)), options.seconds)
            slug, length, target_id = template.slug, len(source), target.id
            db.session.remove()
            db.engine.dispose()
    draft_rate, in_process_rate = drafts / drafts_s, in_process / in_process_s
    pooled_rate, local_rate, base_rate = pooled / pooled_s, local / local_s, base / base_s
    return {
        "template": slug,
        "template_characters": length,
        "target": target_id,
        "letters_per_s": round(draft_rate),  # draft_letters(): a submission's letter (two renders, one round trip)
        "in_process_letters_per_s": round(in_process_rate),  # the same two renders in this process, as before
        "ratio_letters_to_in_process": round(draft_rate / in_process_rate, 3),
        "render_process_renders_per_s": round(pooled_rate),
        "in_process_renders_per_s": round(local_rate),
        "ratio_render_process_to_in_process": round(pooled_rate / local_rate, 3),
        "threads": options.threads,
        "render_process_renders_per_s_threaded": round(threaded_pool),
        "in_process_renders_per_s_threaded": round(threaded_local),
        "ratio_threaded": round(threaded_pool / threaded_local, 3),
        "baseline_plain_jinja_renders_per_s": round(base_rate),
        "ratio_letters_to_plain_renders": round(draft_rate / base_rate, 3),
        "ratio_render_process_to_plain_renders": round(pooled_rate / base_rate, 3),
    }
