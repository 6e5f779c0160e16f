"""Where organizers' template text runs: a locked-down Jinja2 sandbox, the one template check, and the render
process's loop (`serve`) that runs both under hard memory and CPU limits.

Nothing here imports the rest of Outcry, so the render process (`python -I webapp/core/sandbox.py`, started
by webapp/core/rendering.py) holds Jinja2 and nothing else. Everything that parses or renders template text
(the save check, the live preview, every submission) happens in such a process:

- its address space is capped (`setrlimit(RLIMIT_AS)`), so no template can take more than MEMORY_LIMIT_BYTES,
  whatever construct it finds: a failed allocation is a MemoryError reported with its line;
- each request gets CPU_SECONDS of processor time (a profiling timer raises inside the template, with its line),
  and the kernel ends the process (RLIMIT_CPU) if it is stuck inside one long C call; the serving process also
  keeps a wall-clock deadline and kills a render process that overstays it.

Before any of that, parse() holds the template's shape to NESTING_MAX levels and PARTS_MAX parts in one walk of its
own, so no shape (thousands of chained filters, hundreds of nested loops) reaches Jinja's recursive walks or its
compile, where it would overflow the stack or take seconds.

The checks inside the sandbox (sizes of repetitions, joins, widths, numbers) are not the limit: they refuse the
known tricks early, with a clearer message. Whatever they miss meets the process's limits.
"""

from __future__ import annotations

import datetime as dt
import functools
import gc
import json
import os
import re
import signal
import struct
import sys
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, meta, nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.parser import Parser
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

SUBJECT_OUTPUT_MAX = 200
BODY_OUTPUT_MAX = 20_000
SEQUENCE_MAX = 10_000  # longest string or list an expression inside a template may build
RANGE_MAX = 1_000
INT_BITS_MAX = 64  # numbers in letters are counts and years; a product past 2**64 is a number grown on purpose
# What a template may build, checked on the parsed tree in one pass before anything walks it recursively or compiles
# it. The shipped letters are under 50 parts and 5 levels deep; a filter, operator or attribute chain, or a block
# inside a block, is one level each. Deeper trees overflow Python's stack in Jinja's compiler, and the compile of a
# large one takes seconds: the cap is on the shape, so no trick of shape gets that far.
NESTING_MAX = 40
PARTS_MAX = 5_000

# The render process's limits (see the module docstring). A letter needs about 1 MiB and a millisecond.
MEMORY_LIMIT_BYTES = 160 * 2**20  # the whole process, Python and Jinja2 included (they take about 25 MiB)
CPU_SECONDS = 2.0  # per request: one render, or the save check's renders together

# The names a template may use; everything else is an error at save time, not at send time.
VARIABLES = ("supporter", "target", "campaign", "today")


class LetterTemplateError(ValueError):
    """A template that cannot be used, with where (field, line) and why."""

    def __init__(self, field: str, message: str, line: int | None = None):
        self.field, self.message, self.line = field, message, line
        where = f"{field}, line {line}" if line else field
        super().__init__(f"{where}: {message}")

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "message": self.message, "line": self.line}


class RenderTimeout(Exception):
    """Raised inside the template by the CPU timer, so the error can name the line it was on."""


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


def _refuse_long(value: Any, what: str = "that") -> None:
    if isinstance(value, (str, list, tuple)) and len(value) > SEQUENCE_MAX:
        raise SecurityError(f"{what} makes text or a list longer than {SEQUENCE_MAX:,}, far more than a letter needs")


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


def _check_join(items: Any, separator: Any) -> None:
    joins = len(items) - 1 if isinstance(items, (str, list, tuple, range)) else 0
    if isinstance(separator, str) and joins > 0 and len(separator) * joins > SEQUENCE_MAX:
        raise SecurityError("that join would make the letter far too long")


def _check_call(name: str, owner: Any, args: tuple, kwargs: dict) -> None:
    """Refuse, before running it, any call that would build a string or list beyond SEQUENCE_MAX."""
    for value in (*args, *kwargs.values()):
        _refuse_big_number(value)
    _refuse_long(owner)
    if name in ("format", "format_map") and isinstance(owner, str):
        _check_format_string(owner)
    elif name == "replace":
        _check_replace(owner, *args[:3])
    elif name == "join":
        if isinstance(owner, str):  # 'sep'.join(items)
            _check_join(args[0] if args else None, owner)
        else:  # items|join(sep)
            _check_join(owner, args[0] if args else kwargs.get("d", ""))
    elif name == "indent" and isinstance(owner, str):
        width = args[0] if args else kwargs.get("width", 4)
        width = len(width) if isinstance(width, str) else width
        if isinstance(width, int) and width * (owner.count("\n") + 1) + len(owner) > SEQUENCE_MAX:
            raise SecurityError("that indentation would make the letter far too long")


def _guarded_filter(name: str, function):
    """A built-in filter that checks its arguments before it runs and the size of what it made after."""

    @functools.wraps(function)  # keeps jinja_pass_arg, so context-taking filters still get theirs
    def guarded(*args, **kwargs):
        values = [a for a in args if not hasattr(a, "environment")]  # drop an eval context, if passed
        value, rest = (values[0], tuple(values[1:])) if values else (None, ())
        if name == "format" and isinstance(value, str):
            _check_format_string(value)
        _check_call(name, value, rest, kwargs)
        result = function(*args, **kwargs)
        _refuse_long(result, f"the {name} filter")
        return result

    return guarded


# Letter-shaped templates need none of these: each is a way to loop, recurse or hide code.
_FORBIDDEN_NODES = {
    nodes.Macro: "macros are not available in letters",
    nodes.CallBlock: "call blocks are not available in letters",
}


class _LetterCodeGenerator(CodeGenerator):
    """Jinja's compiler, except that `a ~ b` goes through the sandbox (Jinja joins it in place, unchecked)."""

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.concat_text((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class LetterSandbox(ImmutableSandboxedEnvironment):
    """No globals but a short range(), no mutation, no powers, no giant strings, numbers or widths."""

    intercepted_binops = frozenset({"*", "**", "+", "%", "-", "//", "/"})
    code_generator_class = _LetterCodeGenerator

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

    def concat_text(self, values: tuple) -> str:
        parts = [str(value) for value in values]
        if sum(map(len, parts)) > SEQUENCE_MAX:
            raise SecurityError("that ~ joins text far longer than a letter")
        return "".join(parts)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 - Jinja's signature
        _check_call(getattr(__obj, "__name__", ""), getattr(__obj, "__self__", None), args, kwargs)
        result = super().call(__context, __obj, *args, **kwargs)
        _refuse_long(result)
        return result

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
        if op == "%" and isinstance(left, str):
            _check_format_string(left)
        if op == "*" and (isinstance(left, (str, list, tuple)) or isinstance(right, (str, list, tuple))):
            count = right if isinstance(left, (str, list, tuple)) else left
            sequence = left if isinstance(left, (str, list, tuple)) else right
            if isinstance(count, int) and len(sequence) * count > SEQUENCE_MAX:
                raise SecurityError("that repetition would make the letter far too long")
        if (
            op == "*"
            and isinstance(left, int)
            and isinstance(right, int)
            and (left.bit_length() + right.bit_length() > INT_BITS_MAX)
        ):
            raise SecurityError("numbers that big are not available in letters")
        result = super().call_binop(context, op, left, right)
        _refuse_long(result, "that expression")
        if isinstance(result, int) and result.bit_length() > INT_BITS_MAX:
            raise SecurityError("numbers that big are not available in letters")
        return result


_sandbox = LetterSandbox()
_spent: set[str] = set()  # "memory" or "time" once this request ran out of either


NESTED_TOO_DEEPLY = (
    f"this is nested more than {NESTING_MAX} levels deep, far more than a letter needs: use fewer filters, "
    "operators or attributes in a row (a {% set %} can hold part of it) and fewer blocks inside blocks"
)
TOO_MANY_DIGITS = (
    "a number here has thousands of digits, far more than a letter needs (numbers in letters are counts and "
    "years): shorten it, or write it as text outside {{ }}"
)
TOO_BIG = (
    f"this template is made of more than {PARTS_MAX:,} parts (text, variables, filters, blocks), far more than a "
    "letter needs: shorten it"
)
CANNOT_READ = "this template could not be read: simplify the line it names, or rewrite it in smaller parts"


def parse(field: str, source: str) -> nodes.Template:
    """The template's tree, held to NESTING_MAX and PARTS_MAX; a LetterTemplateError if it cannot be read or
    is past them. Everything that parses template text (the check, every compile) comes through here."""
    try:
        parsed = _sandbox.parse(source)
    except TemplateSyntaxError as exc:
        raise LetterTemplateError(field, exc.message or "syntax error", exc.lineno) from None
    except RecursionError as exc:  # e.g. brackets inside brackets, a few hundred deep: Jinja's parser recurses
        raise LetterTemplateError(field, NESTED_TOO_DEEPLY, _parser_line(exc)) from None
    except ValueError:  # the lexer's int(): a literal past Python's 4,300-digit limit for turning text into numbers
        digits = re.search(rf"\d[\d_]{{{sys.get_int_max_str_digits() or 4300},}}", source)
        line = source.count("\n", 0, digits.start()) + 1 if digits else None
        raise LetterTemplateError(field, TOO_MANY_DIGITS if digits else CANNOT_READ, line) from None
    _hold_to_shape(field, parsed)
    return parsed


def _parser_line(exc: BaseException) -> int | None:
    """The line Jinja's parser had reached when it failed, from the parser in the traceback."""
    tb, line = exc.__traceback__, None
    while tb is not None:
        parser = tb.tb_frame.f_locals.get("self")
        if isinstance(parser, Parser):
            line = parser.stream.current.lineno
        tb = tb.tb_next
    return line


def _hold_to_shape(field: str, parsed: nodes.Template) -> None:
    """One pass over the tree with a stack of its own (Jinja's walks recurse), stopping at the first part past
    NESTING_MAX or PARTS_MAX: it visits at most PARTS_MAX parts, whatever the template."""
    stack: list[tuple[nodes.Node, int]] = [(parsed, 0)]
    parts = 0
    while stack:
        node, depth = stack.pop()
        parts += 1
        if depth > NESTING_MAX:
            raise LetterTemplateError(field, NESTED_TOO_DEEPLY, getattr(node, "lineno", None))
        if parts > PARTS_MAX:
            raise LetterTemplateError(field, TOO_BIG, getattr(node, "lineno", None))
        stack.extend((child, depth + 1) for child in node.iter_child_nodes())


@lru_cache(maxsize=64)
def _compile(field: str, source: str):
    return _sandbox.from_string(parse(field, source))


# Python's own exceptions in a render, in the organizer's words: what went wrong, Python's detail in brackets (it
# says which value, e.g. "expected length >= 3, got -5"), then what to change. Never the exception's name.
_PLAIN_WORDS: tuple[tuple[type[BaseException], str, str], ...] = (
    (ZeroDivisionError, "this divides by zero", "change the number after the /, // or %"),
    (ArithmeticError, "this number can't be worked out", "change the calculation"),
    (TypeError, "this puts together values that don't fit together", "change the values or the filter"),
    (AssertionError, "a filter here was given a value it can't use", "change the value"),  # truncate(-5) asserts
    (ValueError, "a value here can't be used", "change it"),
    (LookupError, "this looks up something that isn't there", "change the name or the number"),
)


def _message(exc: BaseException) -> str:
    """An unexpected exception in words for the organizer, without its name, object addresses or class reprs."""
    what, change = next(
        ((what, change) for kind, what, change in _PLAIN_WORDS if isinstance(exc, kind)),
        ("this line can't be written", "change it"),
    )
    detail = re.sub(r"<[^<>]*>", "…", str(exc)).strip()
    return f"{what} ({detail}): {change}" if detail else f"{what}: {change}"


def _render(field: str, source: str, context: dict[str, Any], limit: int) -> str:
    """One part rendered; every exception becomes a LetterTemplateError with the line it happened on."""
    try:
        template = _compile(field, source)
        parts, size = [], 0
        for chunk in template.generate(context):
            size += len(chunk)
            if size > limit:
                raise LetterTemplateError(field, f"the rendered text is over {limit:,} characters")
            parts.append(chunk)
        return "".join(parts).strip()
    except Exception as exc:  # noqa: BLE001 - any failure is the organizer's to fix, never a server error
        error = _as_template_error(field, exc)
    # Raised out here, not in the handler, so that it does not keep the failed render's frames (and the text they
    # built) alive through its __context__. Those frames sit in reference cycles: if they hold much, collect them
    # now, before the next render builds as much again.
    if _resident_bytes() > _RESIDENT_AT_START + 32 * 2**20:
        gc.collect()
    raise error


def _resident_bytes() -> int:
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return sys.maxsize  # not Linux: always collect after a failure


_RESIDENT_AT_START = _resident_bytes()


def _as_template_error(field: str, exc: Exception) -> LetterTemplateError:
    if isinstance(exc, LetterTemplateError):
        exc.__traceback__ = None
        return exc
    if isinstance(exc, TemplateSyntaxError):
        return LetterTemplateError(field, exc.message or "syntax error", exc.lineno)
    line = _line_of(exc)
    if isinstance(exc, SecurityError):
        return LetterTemplateError(field, f"not allowed in a letter: {exc}", line)
    if isinstance(exc, TemplateError):
        return LetterTemplateError(field, exc.message or str(exc), line)
    if isinstance(exc, MemoryError):
        _spent.add("memory")
        return LetterTemplateError(
            field,
            f"this needs more memory than a letter may use ({MEMORY_LIMIT_BYTES // 2**20} MB): it builds far too much "
            "text",
            line,
        )
    if isinstance(exc, RenderTimeout):
        return LetterTemplateError(
            field,
            f"this takes longer to write than a letter may ({CPU_SECONDS:g} s): look for text built over and over, "
            "or long loops",
            line,
        )
    if isinstance(exc, RecursionError):
        return LetterTemplateError(field, NESTED_TOO_DEEPLY, line)
    return LetterTemplateError(field, _message(exc), line)


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


def render_letter(subject: str, body: str, context: dict[str, Any]) -> tuple[str, str]:
    """Render both parts in this process; supporter text inside the context is data and is never evaluated."""
    rendered_subject = " ".join(_render("subject", subject, context, SUBJECT_OUTPUT_MAX).split())
    return rendered_subject, _render("body", body, context, BODY_OUTPUT_MAX)


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

# Who the save check writes as. Different on every field a template could branch on, and the longest a supporter
# may type (validation.py's limits: name 100, address 500, note 5,000), so that a letter which breaks, or builds
# too much, for one kind of supporter is found when it is saved, not when that supporter sends it.
SAMPLE_SUPPORTERS: tuple[tuple[dict[str, str], dt.date | None], ...] = (
    (SAMPLE_SUPPORTER, None),
    ({**SAMPLE_SUPPORTER, "address": "", "note": ""}, None),
    (
        supporter_variables(
            "Zoë Nguyễn-Øberg de la Cruz " + "María José " * 6 + "Þórunn",  # 100 characters
            "zoe.nguyen-oberg.de-la-cruz.maria-jose.thorsdottir.writes.letter@"  # 254 characters, as long as any
            + ".".join(["neighborhood-mutual-aid-network-of-the-mission-district-sf"] * 3 + ["example", "org"]),
            "96799-1234",
            "\n".join(["Apartment 12B, Building 7, Unit " + str(n) for n in range(1, 14)]),
            ("I write this at night after my shift. " * 140)[:5000],
        ),
        dt.date(2028, 2, 29),
    ),
    (supporter_variables("Sam", "s@x.io", "00501", "PO Box 1\nHoltsville, NY 00501", "{{ 7 * 7 }} is not code."), None),
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


def check_source(
    subject: str, body: str, *, target_kinds: list[str] | None = None, require_note: bool = True
) -> list[LetterTemplateError]:
    """Every problem with a template: its shape, its names, then a render for each kind of target it fits and
    each sample supporter. Runs in the render process (parsing hostile text is work too)."""
    problems: list[LetterTemplateError] = []
    for field, source in (("subject", subject), ("body", body)):
        if not source.strip():
            problems.append(LetterTemplateError(field, "is empty"))
            continue
        try:
            parsed = parse(field, source)
        except LetterTemplateError as exc:
            problems.append(exc)
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
    seen: set[str] = set()
    for kind in target_kinds or list(SAMPLE_TARGETS):
        target = SAMPLE_TARGETS.get(kind, SAMPLE_TARGETS["person"])
        for supporter, today in SAMPLE_SUPPORTERS:
            if _spent:  # out of memory or time: the other samples would only say so again
                return problems
            context = context_for(
                supporter=supporter, target=target, campaign={"title": "Sample", "slug": "sample"}, today=today
            )
            try:
                render_letter(subject, body, context)
            except LetterTemplateError as exc:
                if str(exc) not in seen:
                    seen.add(str(exc))
                    problems.append(exc)
    return problems


def _structure_problems(field: str, parsed: nodes.Template) -> list[LetterTemplateError]:
    """Shapes a letter never needs and that could run for hours: macros, recursion, loops in loops."""
    problems = []
    for node_type, message in _FORBIDDEN_NODES.items():
        for node in parsed.find_all(node_type):
            problems.append(LetterTemplateError(field, message, node.lineno))
    inner_loops: dict[int, nodes.For] = {}  # each once, however many loops it is inside
    for loop in parsed.find_all(nodes.For):
        if loop.recursive:
            problems.append(LetterTemplateError(field, "recursive loops are not available in letters", loop.lineno))
        inner_loops.update((id(inner), inner) for inner in loop.find_all(nodes.For))
    for inner in inner_loops.values():
        problems.append(LetterTemplateError(field, "a loop inside a loop is not available in letters", inner.lineno))
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


# ---- the render process ---------------------------------------------------------------------------------------
#
# Requests and answers are JSON, each after a 4-byte length, over the process's stdin and stdout:
#   {"op": "render", "jobs": [[subject, body, context], …]} → {"results": [[subject, body] | {"error": …}, …]}
#     (jobs after the first failure are not rendered: the first error is the answer)
#   {"op": "check", "subject", "body", "target_kinds", "require_note"} → {"problems": [error, …]}
# An error is {"field", "message", "line"}. The process answers b"ready" (framed) once it has started.

_FRAME = struct.Struct("!I")
REQUEST_MAX = 4 * 2**20


def handle(request: dict[str, Any]) -> dict[str, Any]:
    """One request, in whatever process calls it (the render process; or the benchmark, to compare)."""
    if request.get("op") == "check":
        problems = check_source(
            request["subject"],
            request["body"],
            target_kinds=request.get("target_kinds"),
            require_note=bool(request.get("require_note", True)),
        )
        return {"problems": [problem.as_dict() for problem in problems]}
    results: list[Any] = []
    for subject, body, context in request["jobs"]:
        try:
            results.append(list(render_letter(subject, body, context)))
        except LetterTemplateError as exc:
            results.append({"error": exc.as_dict()})
            break
    return {"results": results}


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks, missing = [], size
    while missing:
        chunk = os.read(fd, missing)
        if not chunk:
            return None
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def _write_frame(fd: int, payload: bytes) -> None:
    view = memoryview(_FRAME.pack(len(payload)) + payload)
    while view:
        view = view[os.write(fd, view) :]


def _apply_limits(memory_bytes: int) -> None:
    import resource

    for limit in ("RLIMIT_AS", "RLIMIT_DATA"):  # RLIMIT_AS where the kernel enforces it (Linux); DATA elsewhere
        try:
            resource.setrlimit(getattr(resource, limit), (memory_bytes, memory_bytes))
            break
        except (AttributeError, ValueError, OSError):
            continue
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash leaves no core file holding supporters' words


def _cpu_budget(seconds: float) -> None:
    """Arm the timer that raises RenderTimeout inside the template after `seconds` of CPU, and the kernel's own
    limit a few seconds later (for a stuck C call, or a template that swallowed the timeout)."""
    import resource

    signal.setitimer(signal.ITIMER_PROF, seconds)
    used = resource.getrusage(resource.RUSAGE_SELF)
    spent = int(used.ru_utime + used.ru_stime)
    _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    wanted = spent + int(seconds) + 5
    if hard == resource.RLIM_INFINITY or wanted < hard:
        resource.setrlimit(resource.RLIMIT_CPU, (wanted, hard))


def _on_cpu_timer(signum: int, frame: Any) -> None:
    _spent.add("time")  # once: whatever runs after this (the error, the answer) must not be interrupted again
    raise RenderTimeout


def serve(memory_bytes: int = MEMORY_LIMIT_BYTES, cpu_seconds: float = CPU_SECONDS) -> None:
    """The render process: answer requests on stdin until it closes. After a request that ran out of memory, or
    failed and left the process big, it ends (its heap may stay huge); the serving side starts another."""
    global CPU_SECONDS, MEMORY_LIMIT_BYTES  # noqa: PLW0603 - the messages quote the limits actually applied
    MEMORY_LIMIT_BYTES, CPU_SECONDS = memory_bytes, cpu_seconds
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    _apply_limits(memory_bytes)
    signal.signal(signal.SIGPROF, _on_cpu_timer)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in `make run` is for the server; it closes our stdin
    _write_frame(stdout, b"ready")
    while True:
        header = _read_exactly(stdin, _FRAME.size)
        if header is None:
            return
        (size,) = _FRAME.unpack(header)
        if size > REQUEST_MAX:
            return
        payload = _read_exactly(stdin, size)
        if payload is None:
            return
        _spent.clear()
        try:
            _cpu_budget(cpu_seconds)
            try:
                answer = handle(json.loads(payload))
            finally:
                signal.setitimer(signal.ITIMER_PROF, 0)
        except (MemoryError, RenderTimeout) as exc:  # outside a render: parsing or walking a huge template
            _spent.add("memory" if isinstance(exc, MemoryError) else "time")
            answer = {"fatal": "the template needs more memory or time than a letter may use: shorten it"}
        except Exception:  # noqa: BLE001 - nothing known reaches here (parse() holds the shape); words, not a name
            answer = {"fatal": CANNOT_READ}
        failed = (
            "fatal" in answer or answer.get("problems") or any(isinstance(r, dict) for r in answer.get("results", ()))
        )
        ending = "memory" in _spent or (failed and _still_big())
        if ending:
            answer["ending"] = True
        _write_frame(stdout, json.dumps(answer).encode())
        if ending:
            return


def _still_big() -> bool:
    """Whether a failed request left this process holding much more than it started with, even after collecting."""
    if _resident_bytes() <= _RESIDENT_AT_START + 64 * 2**20:
        return False
    gc.collect()
    return _resident_bytes() > _RESIDENT_AT_START + 64 * 2**20


if __name__ == "__main__":
    serve(int(sys.argv[1]), float(sys.argv[2])) if len(sys.argv) == 3 else serve()
