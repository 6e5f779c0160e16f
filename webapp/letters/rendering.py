"""Organizer templates rendered in a locked-down Jinja2 sandbox, with the one check every editor uses."""

from __future__ import annotations

import datetime as dt
import functools
import operator
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

SUBJECT_OUTPUT_MAX = 200
BODY_OUTPUT_MAX = 20_000
SEQUENCE_MAX = 10_000  # longest string or list an expression inside a template may build
RANGE_MAX = 1_000

# The names a template may use; everything else is an error at save time, not at send time.
VARIABLES = ("supporter", "target", "campaign", "today")


class LetterTemplateError(ValueError):
    """A template that cannot be used, with where (field, line) and why."""

    def __init__(self, field: str, message: str, line: int | None = None):
        self.field, self.message, self.line = field, message, line
        where = f"{field}, line {line}" if line else field
        super().__init__(f"{where}: {message}")


def _limited_range(*args: int) -> range:
    result = range(*args)
    if len(result) > RANGE_MAX:
        raise SecurityError(f"range() is limited to {RANGE_MAX} items in letters")
    return result


# Widths in '%10s' and '{:>10}' and numbers passed to filters and string methods: a letter never needs
# more than a line's worth, and a huge one would build a huge string before any output cap could see it.
_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_FORMAT_FIELD = re.compile(r"\{([^{}]*)\}")


def _refuse_big_number(value: Any) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > SEQUENCE_MAX:
        raise SecurityError(f"numbers above {SEQUENCE_MAX:,} are not available in letters")


def _check_format_string(fmt: str) -> None:
    for match in _PRINTF_SPEC.finditer(fmt):
        for number in match.groups():
            if number == "*":
                raise SecurityError("'*' widths are not available in letters")
            if number:
                _refuse_big_number(int(number))
    for match in _FORMAT_FIELD.finditer(fmt):
        for number in re.findall(r"\d+", match.group(1).partition(":")[2]):
            _refuse_big_number(int(number))


def _check_replace(text: Any, old: Any, new: Any, count: Any = None) -> None:
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        hits = text.count(old) if old else len(text) + 1
        if isinstance(count, int) and count >= 0:
            hits = min(hits, count)
        if len(text) + hits * (len(new) - len(old)) > SEQUENCE_MAX:
            raise SecurityError("that replacement would make the letter far too long")


def _check_call(name: str, owner: Any, args: tuple, kwargs: dict) -> None:
    """Refuse, before running it, any call that would build a string or list beyond SEQUENCE_MAX."""
    for value in (*args, *kwargs.values()):
        _refuse_big_number(value)
    if name in ("format", "format_map") and isinstance(owner, str):
        _check_format_string(owner)
    elif name == "replace":
        _check_replace(owner, *args[:3])
    elif name == "indent" and isinstance(owner, str):
        width = args[0] if args else kwargs.get("width", 4)
        width = len(width) if isinstance(width, str) else width
        if isinstance(width, int) and width * (owner.count("\n") + 1) + len(owner) > SEQUENCE_MAX:
            raise SecurityError("that indentation would make the letter far too long")


def _guarded_filter(name: str, function):
    """A built-in filter that first checks its arguments like any other call (see _check_call)."""

    @functools.wraps(function)  # keeps jinja_pass_arg, so context-taking filters still get theirs
    def guarded(*args, **kwargs):
        values = [a for a in args if not hasattr(a, "environment")]  # drop an eval context, if passed
        value, rest = (values[0], tuple(values[1:])) if values else (None, ())
        if name == "format" and isinstance(value, str):
            _check_format_string(value)
        _check_call(name, value, rest, kwargs)
        return function(*args, **kwargs)

    return guarded


# Letter-shaped templates need none of these: each is a way to loop, recurse or hide code.
_FORBIDDEN_NODES = {
    nodes.Macro: "macros are not available in letters",
    nodes.CallBlock: "call blocks are not available in letters",
}


class LetterSandbox(ImmutableSandboxedEnvironment):
    """No globals but a short range(), no mutation, no powers, no giant strings, no giant widths."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self) -> None:
        super().__init__(
            undefined=StrictUndefined,
            autoescape=False,
            keep_trailing_newline=False,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        # cycler, joiner, namespace, lipsum, dict: none is needed in a letter, each is attack surface.
        self.globals = {"range": _limited_range}
        self.filters = {name: _guarded_filter(name, function) for name, function in self.filters.items()}

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 - Jinja's signature
        _check_call(getattr(__obj, "__name__", ""), getattr(__obj, "__self__", None), args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Any:
        """Every `'…'.format(…)` in a template is wrapped here by the sandbox; check its widths first."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        fmt = value.__self__

        def checked(*args: Any, **kwargs: Any) -> str:
            _check_format_string(fmt)
            return wrapped(*args, **kwargs)

        return functools.update_wrapper(checked, wrapped)

    def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:
        if op == "**":
            raise SecurityError("the power operator is not available in letters")
        if op == "%":
            if isinstance(left, str):
                _check_format_string(left)
            return operator.mod(left, right)
        if op == "*" and (isinstance(left, (str, list, tuple)) or isinstance(right, (str, list, tuple))):
            count = right if isinstance(left, (str, list, tuple)) else left
            sequence = left if isinstance(left, (str, list, tuple)) else right
            if isinstance(count, int) and len(sequence) * count > SEQUENCE_MAX:
                raise SecurityError("that repetition would make the letter far too long")
        result = {"*": operator.mul, "+": operator.add}[op](left, right)
        if isinstance(result, (str, list, tuple)) and len(result) > SEQUENCE_MAX:
            raise SecurityError("that expression makes the letter far too long")
        return result


_sandbox = LetterSandbox()


@lru_cache(maxsize=512)
def _compile(source: str):
    return _sandbox.from_string(source)


def _render(field: str, source: str, context: dict[str, Any], limit: int) -> str:
    try:
        template = _compile(source)
        parts, size = [], 0
        for chunk in template.generate(context):
            size += len(chunk)
            if size > limit:
                raise LetterTemplateError(field, f"the rendered text is over {limit:,} characters")
            parts.append(chunk)
    except TemplateSyntaxError as exc:
        raise LetterTemplateError(field, exc.message or "syntax error", exc.lineno) from None
    except SecurityError as exc:
        raise LetterTemplateError(field, f"not allowed in a letter: {exc}", _line_of(exc)) from None
    except TemplateError as exc:
        raise LetterTemplateError(field, exc.message or str(exc), _line_of(exc)) from None
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
        raise LetterTemplateError(field, f"{type(exc).__name__}: {exc}", _line_of(exc)) from None
    except RecursionError:
        raise LetterTemplateError(field, "the template calls itself without end") from None
    return "".join(parts).strip()


def _line_of(exc: BaseException) -> int | None:
    """The template line an error happened on, from the traceback of the compiled template."""
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            template = tb.tb_frame.f_globals.get("__jinja_template__")
            # Jinja rewrites the traceback of a failed render: those frames already carry the template's line.
            line = template.get_corresponding_lineno(tb.tb_lineno) if template is not None else tb.tb_lineno
        tb = tb.tb_next
    return line


@dataclass(frozen=True)
class RenderedLetter:
    subject: str
    body: str


def render(subject: str, body: str, context: dict[str, Any]) -> RenderedLetter:
    """Render both parts; supporter text inside the context is data and is never evaluated."""
    rendered_subject = " ".join(_render("subject", subject, context, SUBJECT_OUTPUT_MAX).split())
    return RenderedLetter(rendered_subject, _render("body", body, context, BODY_OUTPUT_MAX))


def context_for(
    *,
    supporter: dict[str, str],
    target: dict[str, Any],
    campaign: dict[str, str],
    today: dt.date | None = None,
) -> dict[str, Any]:
    today = today or dt.date.today()
    return {
        "supporter": supporter,
        "target": target,
        "campaign": campaign,
        "today": f"{today:%B} {today.day}, {today.year}",
    }


def supporter_variables(name: str, email: str, zip_code: str, address: str = "", note: str = "") -> dict[str, str]:
    return {
        "name": name,
        "first_name": name.split()[0] if name.split() else "",
        "email": email,
        "zip": zip_code,
        "address": address,
        "note": note,
    }


SAMPLE_SUPPORTER = supporter_variables(
    "Alex Rivera",
    "alex@example.org",
    "94110",
    "123 Mission St\nSan Francisco, CA 94110",
    "I am a pediatric nurse, and I have seen what separation does to a child.",
)

SAMPLE_TARGETS: dict[str, dict[str, Any]] = {
    kind: {
        "id": f"sample-{kind}",
        "kind": kind,
        "name": name,
        "first_name": name.split()[0],
        "last_name": name.split()[-1],
        "title": title,
        "organization": organization,
        "salutation": salutation,
        "role": role,
        "state": state,
        "district": district,
    }
    for kind, name, title, organization, salutation, role, state, district in (
        ("ceo", "Jordan Example", "Chief Executive Officer", "Example Corp", "Ms. Example", "", "", None),
        ("company", "Example Corp", "", "Example Corp", "Example Corp", "", "", None),
        ("un_office", "Human Rights Office", "", "United Nations", "High Commissioner", "", "", None),
        ("government", "Example Mission", "", "Example Government", "Ambassador", "", "", None),
        ("person", "Sam Example", "", "", "Sam Example", "", "", None),
        ("senator", "Pat Example", "Senator", "US Senate", "Senator Example", "Senator", "CA", None),
        (
            "representative",
            "Kim Example",
            "Representative",
            "US House",
            "Representative Example",
            "Representative",
            "CA",
            11,
        ),
        ("delegate", "Lee Example", "Delegate", "US House", "Delegate Example", "Delegate", "DC", 0),
    )
}


def check_template(
    subject: str, body: str, *, target_kinds: list[str] | None = None, require_note: bool = True
) -> list[LetterTemplateError]:
    """Every problem with a template, found by parsing it and rendering it for each kind it fits.

    The organizer form, `flask letters check` and the tests all call this one function. Letters
    must give the supporter's note a place; call scripts (`require_note=False`) need not.
    """
    problems: list[LetterTemplateError] = []
    for field, source in (("subject", subject), ("body", body)):
        if not source.strip():
            problems.append(LetterTemplateError(field, "is empty"))
            continue
        try:
            parsed = _sandbox.parse(source)
        except TemplateSyntaxError as exc:
            problems.append(LetterTemplateError(field, exc.message or "syntax error", exc.lineno))
            continue
        problems += _structure_problems(field, parsed)
        unknown = sorted(meta.find_undeclared_variables(parsed) - set(VARIABLES))
        for name in unknown:
            line = next((n.lineno for n in parsed.find_all(nodes.Name) if n.name == name), None)
            problems.append(
                LetterTemplateError(field, f"'{name}' is not a letter variable (use {', '.join(VARIABLES)})", line)
            )
        if field == "body" and require_note and not _uses_note(parsed):
            problems.append(
                LetterTemplateError(
                    "body",
                    "the supporter's personal note has no place: add {{ supporter.note }} where it belongs",
                )
            )
    if problems:
        return problems
    kinds = target_kinds or list(SAMPLE_TARGETS)
    for kind in kinds:
        target = SAMPLE_TARGETS.get(kind, SAMPLE_TARGETS["person"])
        for supporter in (SAMPLE_SUPPORTER, {**SAMPLE_SUPPORTER, "address": "", "note": ""}):
            context = context_for(supporter=supporter, target=target, campaign={"title": "Sample", "slug": "sample"})
            try:
                render(subject, body, context)
            except LetterTemplateError as exc:
                if str(exc) not in {str(p) for p in problems}:
                    problems.append(exc)
    return problems


def _structure_problems(field: str, parsed: nodes.Template) -> list[LetterTemplateError]:
    """Shapes a letter never needs and that could run for hours: macros, recursion, loops in loops."""
    problems = []
    for node_type, message in _FORBIDDEN_NODES.items():
        for node in parsed.find_all(node_type):
            problems.append(LetterTemplateError(field, message, node.lineno))
    for loop in parsed.find_all(nodes.For):
        if loop.recursive:
            problems.append(LetterTemplateError(field, "recursive loops are not available in letters", loop.lineno))
        for inner in [*loop.find_all(nodes.For)]:
            problems.append(
                LetterTemplateError(field, "a loop inside a loop is not available in letters", inner.lineno)
            )
    return problems


def _uses_note(parsed: nodes.Template) -> bool:
    for getattr_node in parsed.find_all(nodes.Getattr):
        if (
            getattr_node.attr == "note"
            and isinstance(getattr_node.node, nodes.Name)
            and getattr_node.node.name == "supporter"
        ):
            return True
    return False
