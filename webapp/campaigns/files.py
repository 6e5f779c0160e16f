"""The `letter_templates/` file format: one folder per campaign, read into plain dataclasses."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from webapp.campaigns.content import (
    LANGUAGE,
    SLUG,
    SLUG_RULE,
    TARGET_FIELDS,
    ContentInvalid,
    TemplateContent,
    campaign_text_problems,
    clean_resource,
    clean_target,
    clean_update,
    normalize_body,
    problems,
)
from webapp.models import TARGET_KINDS

CAMPAIGN_FILE = "campaign.yaml"
LETTERS_DIR = "letters"


class CampaignFileError(ValueError):
    """A campaign folder that cannot be loaded; the message names the file and the problem."""


@dataclass
class TemplateSpec:
    slug: str
    name: str
    subject: str
    body: str
    targets: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    position: int = 0
    min_note_length: int = 0  # characters of their own words a supporter must write (0: none)
    salutation_and_signoff: bool = False  # "Dear …," and "Sincerely, <name>" added around the body
    topics: list[str] = field(default_factory=list)  # Library of Congress topics for letters delivered through CWC
    language: str = "en"  # the language name, subject and body are in
    # The same letter in other languages, from <slug>.<language>.txt: {"es": {"name", "subject", "body"}}.
    translations: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class CampaignSpec:
    slug: str
    title: str
    summary: str
    congress: bool
    published: bool
    position: int
    updates: list[tuple[dt.date, str]]
    resources: list[dict[str, str | None]]
    targets: list[dict[str, Any]]
    templates: list[TemplateSpec]
    closed: bool | None = None  # None: the file doesn't say, so loading leaves the campaign open or closed
    # The campaign's own words in other languages: {"es": {"title", "summary", "updates": {date: text},
    # "resources": {name: description}}}.
    translations: dict[str, dict[str, Any]] = field(default_factory=dict)


def _split_front_matter(path: Path) -> tuple[dict[str, Any], str]:
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---\n"):
        raise CampaignFileError(f"{path}: must start with a '---' line opening the front matter")
    head, sep, body = text[4:].partition("\n---\n")
    if not sep:
        raise CampaignFileError(f"{path}: the front matter needs a closing '---' line")
    try:
        meta = yaml.safe_load(head) or {}
    except yaml.YAMLError as exc:
        raise CampaignFileError(f"{path}: front matter is not valid YAML: {exc}") from None
    if not isinstance(meta, dict):
        raise CampaignFileError(f"{path}: front matter must be a mapping of settings")
    return meta, body.strip("\n") + "\n"


# The settings a letter file's front matter may have (besides its position), and the schema field each one fills.
FILE_KEYS = {
    "name": "name",
    "subject": "subject",
    "targets": "target_ids",
    "kinds": "target_kinds",
    "channels": "channels",
    "min_note_length": "min_note_length",
    "salutation_and_signoff": "salutation_and_signoff",
    "topics": "cwc_topics",
    "language": "language",
}
_SETTING_OF = {field: key for key, field in FILE_KEYS.items()}


def _in_file_words(errors: dict[str, list[str]]) -> str:
    """The schema's problems, each named by the setting a file spells."""
    said = []
    for field_name, messages in errors.items():
        key = _SETTING_OF.get(field_name, field_name)
        for message in messages:
            message = message.replace(field_name, key)
            said.append(message if message.startswith((key, f"'{key}'")) else f"{key}: {message}")
    return "; ".join(said)


def _language(value: Any, where: str) -> str:
    if not isinstance(value, str) or not LANGUAGE.match(value):
        raise CampaignFileError(f"{where}: language must be a language code like en or es, not {value!r}")
    return value


def read_translation(path: Path, letter_language: Any) -> tuple[str, dict[str, str]]:
    """`<slug>.<language>.txt`: the same letter in another language. Only the name, subject and body are its own;
    who it is for, how it is sent and the rest are the main file's. Its words are checked with the letter's
    (`TemplateContent.check`, by `read_template`)."""
    where = str(path)
    language = _language(path.stem.partition(".")[2], f"{where}: the file name's language")
    if language == letter_language:
        raise CampaignFileError(f"{where}: the letter itself is already in {language}")
    meta, body = _split_front_matter(path)
    for key in ("name", "subject"):
        if not isinstance(meta.get(key), str) or not meta[key].strip():
            raise CampaignFileError(f"{where}: '{key}' is missing")
    unknown_keys = set(meta) - {"name", "subject"}
    if unknown_keys:
        raise CampaignFileError(
            f"{where}: a translation has only a name, a subject and a body; {sorted(unknown_keys)} belong in "
            f"{path.stem.partition('.')[0]}.txt"
        )
    return language, {"name": meta["name"].strip(), "subject": meta["subject"].strip(), "body": body}


def read_template(path: Path, known_targets: dict[str, str]) -> TemplateSpec:
    """A letter file and its translations' files, held to the rules the workspace holds a letter to
    (webapp/campaigns/content.py)."""
    meta, body = _split_front_matter(path)
    where = str(path)
    unknown_keys = set(meta) - {*FILE_KEYS, "position"}
    if unknown_keys:
        raise CampaignFileError(f"{where}: unknown settings {sorted(unknown_keys)}")
    values = {field_name: meta[key] for key, field_name in FILE_KEYS.items() if meta.get(key) is not None}
    translation_files = {}
    for translation in sorted(path.parent.glob(f"{path.stem}.*.txt")):
        language, text = read_translation(translation, values.get("language", "en"))
        translation_files[language] = translation
        values.setdefault("translations", {})[language] = text
    try:
        content = TemplateContent.model_validate({**values, "body": body})
    except ValidationError as exc:
        raise CampaignFileError(f"{where}: {_in_file_words(problems(exc))}") from None
    errors, template_problems = content.check(known_targets)
    in_translations = {key: errors.pop(key) for key in list(errors) if key.startswith("translations.")}
    if errors:
        raise CampaignFileError(f"{where}: {_in_file_words(errors)}")
    if template_problems:
        raise CampaignFileError(f"{where}: " + "; ".join(str(p) for p in template_problems))
    for key, messages in in_translations.items():
        raise CampaignFileError(f"{translation_files[key.partition('.')[2]]}: " + "; ".join(messages))
    return TemplateSpec(
        slug=path.stem,
        name=content.name,
        subject=content.subject,
        body=content.body,
        targets=content.target_ids,
        kinds=content.target_kinds,
        channels=content.channels,
        position=int(meta.get("position", 0)),
        min_note_length=content.min_note_length,
        salutation_and_signoff=content.salutation_and_signoff,
        topics=content.cwc_topics,
        language=content.language,
        translations=content.translations,
    )


def read_campaign(folder: Path) -> CampaignSpec:
    path = folder / CAMPAIGN_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise CampaignFileError(f"{path}: {exc}") from None
    if not isinstance(data.get("title"), str):
        raise CampaignFileError(f"{path}: 'title' is missing")
    if not SLUG.match(folder.name):  # the folder's name is the campaign's address, /c/<name>
        raise CampaignFileError(f"{folder}: name the folder as the campaign's address. {SLUG_RULE}")
    title, summary = data["title"].strip(), str(data.get("summary") or "").strip()
    # the rules the workspace and the organizer API hold a campaign's own words to (webapp/campaigns/content.py)
    if text_problems := campaign_text_problems(title, summary):
        raise CampaignFileError(f"{path}: {_in_file_words(text_problems)}")
    targets = []
    for index, target in enumerate(data.get("targets") or []):
        if not isinstance(target, dict) or not target.get("id") or not target.get("name"):
            raise CampaignFileError(f"{path}: target {index + 1} needs at least an id and a name")
        if target.get("kind") not in TARGET_KINDS:
            raise CampaignFileError(
                f"{path}: target '{target['id']}' has kind {target.get('kind')!r}; use one of {', '.join(TARGET_KINDS)}"
            )
        if "languages" in target:
            languages = target["languages"]
            if not isinstance(languages, list) or not languages:
                raise CampaignFileError(f"{path}: target '{target['id']}' languages must be a list like [en, es]")
            for code in languages:
                _language(code, f"{path}: target '{target['id']}' languages")
        unknown = set(target) - {"id", "languages", *TARGET_FIELDS}
        if unknown:
            raise CampaignFileError(f"{path}: target '{target['id']}' has unknown fields {sorted(unknown)}")
        try:  # the rules the workspace and the organizer API hold a target to (webapp/campaigns/content.py)
            cleaned = clean_target(target, [key for key in TARGET_FIELDS if key in target])
        except ContentInvalid as exc:
            raise CampaignFileError(f"{path}: target '{target['id']}': {exc}") from None
        languages = {"languages": target["languages"]} if "languages" in target else {}
        targets.append({"id": str(target["id"]).strip(), **cleaned, **languages})
    updates = []
    for update in data.get("updates") or []:
        if not isinstance(update, dict) or not isinstance(update.get("date"), dt.date) or not update.get("text"):
            raise CampaignFileError(f"{path}: each update needs a date (YYYY-MM-DD) and a text")
        try:
            updates.append(clean_update(update["date"], str(update["text"])))
        except ContentInvalid as exc:
            raise CampaignFileError(f"{path}: the update of {update['date']}: {exc}") from None
    resources = []
    for resource in data.get("resources") or []:
        if not isinstance(resource, dict) or not resource.get("name"):
            raise CampaignFileError(f"{path}: each resource needs a name")
        url = resource.get("url")
        if url is not None and not (isinstance(url, str) and url.startswith(("https://", "http://"))):
            raise CampaignFileError(f"{path}: resource '{resource['name']}' needs an http(s):// link or none")
        try:
            resources.append(
                clean_resource(
                    str(resource.get("kind", "read")),
                    str(resource["name"]),
                    url,
                    str(resource.get("description") or ""),
                )
            )
        except ContentInvalid as exc:
            raise CampaignFileError(f"{path}: resource '{resource['name']}': {exc}") from None
    closed = data.get("closed")
    if closed is not None and not isinstance(closed, bool):
        raise CampaignFileError(f"{path}: 'closed' must be true or false")
    known_targets = {target["id"]: target["kind"] for target in targets}
    translations = _campaign_translations(data.get("translations"), path, updates, resources, set(known_targets))
    letters = folder / LETTERS_DIR
    templates = [read_template(p, known_targets) for p in _letter_files(letters)] if letters.is_dir() else []
    return CampaignSpec(
        slug=folder.name,
        title=title,
        summary=summary,
        congress=bool(data.get("congress", False)),
        published=bool(data.get("published", True)),
        position=int(data.get("position", 0)),
        updates=updates,
        resources=resources,
        targets=targets,
        templates=sorted(templates, key=lambda t: (t.position, t.slug)),
        closed=closed,
        translations=translations,
    )


def _campaign_translations(
    value: Any, path: Path, updates: list, resources: list, target_ids: set[str]
) -> dict[str, dict[str, Any]]:
    """campaign.yaml's `translations:`: per language, the title, summary, updates (by date), resources'
    descriptions (by name) and targets' notes (by id) in that language; each must name something the campaign has."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise CampaignFileError(f"{path}: translations must be a mapping of languages, like es: {{title: …}}")
    found: dict[str, dict[str, Any]] = {}
    dates = {date.isoformat() for date, _text in updates}
    names = {resource["name"] for resource in resources}
    for language, text in value.items():
        where = f"{path}: translations: {language}"
        _language(language, where)
        if not isinstance(text, dict) or set(text) - {"title", "summary", "updates", "resources", "notes"}:
            raise CampaignFileError(f"{where}: has title, summary, updates, resources and notes, nothing else")
        entry: dict[str, Any] = {}
        for key in ("title", "summary"):
            if key in text:
                if not isinstance(text[key], str) or not text[key].strip():
                    raise CampaignFileError(f"{where}: {key} must be text")
                entry[key] = text[key].strip()
        by_date = {}
        for date, words in (text.get("updates") or {}).items():
            day = date.isoformat() if isinstance(date, dt.date) else str(date)
            if day not in dates or not isinstance(words, str):
                raise CampaignFileError(f"{where}: updates: {day} is not the date of one of the campaign's updates")
            by_date[day] = words.strip()
        if by_date:
            entry["updates"] = by_date
        described = {}
        for name, words in (text.get("resources") or {}).items():
            if name not in names or not isinstance(words, str):
                raise CampaignFileError(
                    f"{where}: resources: {name!r} is not the name of one of the campaign's resources"
                )
            described[name] = words.strip()
        if described:
            entry["resources"] = described
        notes = {}
        for target_id, words in (text.get("notes") or {}).items():
            if target_id not in target_ids or not isinstance(words, str):
                raise CampaignFileError(f"{where}: notes: {target_id!r} is not one of the campaign's targets")
            notes[target_id] = words.strip()
        if notes:
            entry["notes"] = notes
        found[language] = entry
    return found


def _letter_files(letters: Path) -> list[Path]:
    """The letters' own files: `<slug>.txt`; `<slug>.<language>.txt` are their translations, read with them. A
    translation whose letter is missing is an error, not a file silently ignored."""
    found = sorted(path for path in letters.glob("*.txt") if "." not in path.stem)
    slugs = {path.stem for path in found}
    for path in sorted(letters.glob("*.*.txt")):
        if path.stem.partition(".")[0] not in slugs:
            raise CampaignFileError(f"{path}: a translation of {path.stem.partition('.')[0]}.txt, which is missing")
    return found


def read_all(root: Path) -> list[CampaignSpec]:
    """Every campaign folder under `root` (a folder with a campaign.yaml)."""
    return [read_campaign(folder) for folder in sorted(root.iterdir()) if (folder / CAMPAIGN_FILE).is_file()]


# ---- writing the format back (`flask campaigns export`) ----------------------------------------------------------
# What is written reads back into an equal CampaignSpec, and writing that spec again gives the same bytes.

EXPORT_HEADER = "# Written by `flask campaigns export`. Edit freely, then load it with `flask campaigns load`.\n"
YAML_WIDTH = 96


class _Dumper(yaml.SafeDumper):
    """Block style like a person writes it: indented lists, `[a, b]` for short lists, `|-` for several lines."""

    def increase_indent(self, flow: bool = False, indentless: bool = False):
        return super().increase_indent(flow, False)


def _reads_back(value: str, style: str) -> bool:
    return (
        yaml.safe_load(
            yaml.dump(value, Dumper=yaml.SafeDumper, default_style=style, width=YAML_WIDTH, allow_unicode=True)
        )
        == value
    )


def _represent_str(dumper: yaml.SafeDumper, value: str):
    style = None
    if "\n" in value:
        style = "|"
    elif len(value) > YAML_WIDTH - 20 and " " in value:
        style = ">"
    if style and not _reads_back(value, style):
        style = None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _represent_list(dumper: yaml.SafeDumper, value: list):
    flow = all(isinstance(item, str | int) for item in value)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flow)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(list, _represent_list)


def _yaml(data: dict[str, Any]) -> str:
    return yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=YAML_WIDTH, default_flow_style=False
    )


def campaign_yaml(spec: CampaignSpec) -> str:
    data: dict[str, Any] = {
        "title": spec.title,
        "summary": spec.summary,
        "position": spec.position,
        "published": spec.published,
        "congress": spec.congress,
    }
    if spec.closed:
        data["closed"] = True
    if spec.updates:
        data["updates"] = [{"date": date, "text": text} for date, text in spec.updates]
    if spec.targets:
        data["targets"] = [
            {"id": target["id"], **{key: target[key] for key in (*TARGET_FIELDS, "languages") if target.get(key)}}
            for target in spec.targets
        ]
    if spec.resources:
        data["resources"] = [
            {key: resource[key] for key in ("kind", "name", "url", "description") if resource.get(key)}
            for resource in spec.resources
        ]
    if spec.translations:
        data["translations"] = spec.translations
    return EXPORT_HEADER + _yaml(data)


def template_text(spec: TemplateSpec) -> str:
    meta: dict[str, Any] = {"name": spec.name}
    if spec.targets:
        meta["targets"] = list(spec.targets)
    if spec.kinds:
        meta["kinds"] = list(spec.kinds)
    meta["channels"] = list(spec.channels)
    meta["position"] = spec.position
    if spec.min_note_length:
        meta["min_note_length"] = spec.min_note_length
    if spec.salutation_and_signoff:
        meta["salutation_and_signoff"] = True
    if spec.topics:
        meta["topics"] = list(spec.topics)
    if spec.language != "en":
        meta["language"] = spec.language
    meta["subject"] = spec.subject
    return "---\n" + _yaml(meta) + "---\n" + normalize_body(spec.body)


def translation_text(text: dict[str, str]) -> str:
    return "---\n" + _yaml({"name": text["name"], "subject": text["subject"]}) + "---\n" + normalize_body(text["body"])


def write_campaign(spec: CampaignSpec, root: Path) -> list[str]:
    """Write one campaign folder under `root` (root/<slug>/); letter files no longer in it are removed.

    Returns what happened, one line per file, for the terminal.
    """
    folder = root / spec.slug
    letters = folder / LETTERS_DIR
    letters.mkdir(parents=True, exist_ok=True)
    done = []
    wanted = {folder / CAMPAIGN_FILE: campaign_yaml(spec)}
    wanted.update({letters / f"{template.slug}.txt": template_text(template) for template in spec.templates})
    wanted.update(
        {
            letters / f"{template.slug}.{language}.txt": translation_text(text)
            for template in spec.templates
            for language, text in template.translations.items()
        }
    )
    for path, text in wanted.items():
        old = path.read_text(encoding="utf-8") if path.exists() else None
        if old != text:
            path.write_text(text, encoding="utf-8")
            done.append(f"{'wrote' if old is None else 'updated'} {path}")
    for path in sorted(letters.glob("*.txt")):
        if path not in wanted:
            path.unlink()
            done.append(f"removed {path} (no longer in the campaign)")
    return done


def digest(spec: CampaignSpec) -> str:
    """A fingerprint of everything a campaign folder says, to tell whether it changed since the last load."""
    data = asdict(spec)
    if not data["translations"]:
        del data["translations"]  # so a folder loaded before campaigns had translations stays unchanged
    for template in data["templates"]:
        if not template["salutation_and_signoff"]:
            del template["salutation_and_signoff"]  # so a folder loaded before the option existed stays unchanged
        if not template["topics"]:
            del template["topics"]  # the same for topics
        if template["language"] == "en" and not template["translations"]:
            del template["language"], template["translations"]  # likewise for letters in English only
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
