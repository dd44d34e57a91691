"""Reading content files: Markdown with YAML front matter, and YAML files, with the line of
each field, so that a problem can be reported as FILE:LINE: FIELD: message."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from flask_babel import gettext as _

# libyaml's parser when PyYAML was built with it (ten times faster over hundreds of content files;
# the same marks, so the same lines in problems), else the pure-Python one.
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

FIELD_LINE_RE = re.compile(r"^([A-Za-z_][\w-]*)\s*:")


class FileProblem(Exception):
    def __init__(self, line: int, field: str, message: str):
        super().__init__(message)
        self.line, self.field, self.message = line, field, message


@dataclass
class FrontMatterFile:
    data: dict
    body: str
    body_line: int  # the line the body starts on
    field_lines: dict  # top-level field name → line
    digest: str  # sha256 of the file's bytes

    def line_of(self, name: str) -> int:
        return self.field_lines.get(name, 1)


def read_text(path: Path) -> tuple[str, bytes]:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig"), raw
    except UnicodeDecodeError as exc:
        raise FileProblem(raw[: exc.start].count(b"\n") + 1, "file", _("Not valid UTF-8.")) from exc


def yaml_problem(exc: yaml.YAMLError, first_line: int, field: str) -> FileProblem:
    """A YAML error as a FileProblem; ``first_line`` is the file line of the YAML's line 1."""
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + first_line if mark is not None else first_line
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context_mark", None)
    if context is not None and context.line + first_line != line:
        # e.g. a list opened with [ on one line and never closed: say where it began
        problem = _("%(problem)s (the structure began on line %(line)d)", problem=problem,
                    line=context.line + first_line)
    return FileProblem(line, field, _("Not valid YAML: %(problem)s", problem=problem))


def _load(text: str, first_line: int, field: str):
    """yaml.safe_load, with every failure (also a value YAML parses but cannot build, such as
    the date 2026-13-40) turned into a FileProblem with its line."""
    try:
        return yaml.load(text, Loader=YAML_LOADER)
    except yaml.YAMLError as exc:
        raise yaml_problem(exc, first_line, field) from exc
    except ValueError as exc:
        line = first_line
        try:
            stack = [yaml.compose(text, Loader=YAML_LOADER)]
            while stack:
                node = stack.pop()
                if node is None:
                    continue
                if isinstance(node, yaml.ScalarNode):
                    if node.tag.endswith(":timestamp"):
                        try:
                            yaml.load(node.value, Loader=YAML_LOADER)
                        except ValueError:
                            line = node.start_mark.line + first_line
                            break
                elif isinstance(node, yaml.MappingNode):
                    stack.extend(v for pair in node.value for v in pair)
                else:
                    stack.extend(node.value)
        except yaml.YAMLError:
            pass
        raise FileProblem(line, field, _("Not a valid value: %(problem)s", problem=str(exc))) from exc


def top_level_lines(lines: list[str], first_line: int) -> dict:
    found = {}
    for number, line in enumerate(lines, start=first_line):
        match = FIELD_LINE_RE.match(line)
        if match:
            found.setdefault(match.group(1), number)
    return found


def parse_front_matter(path: Path) -> FrontMatterFile:
    """Split a Markdown file into its front matter (a mapping) and body."""
    text, raw = read_text(path)
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise FileProblem(1, "front matter", _("The file must start with a line '---'."))
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise FileProblem(1, "front matter", _("The front matter has no closing '---' line.")) from None
    data = _load("\n".join(lines[1:end]), 2, "front matter") or {}
    if not isinstance(data, dict):
        raise FileProblem(2, "front matter", _("The front matter must be a set of fields."))
    return FrontMatterFile(data=data, body="\n".join(lines[end + 1:]).strip(), body_line=end + 2,
                           field_lines=top_level_lines(lines[1:end], 2),
                           digest=hashlib.sha256(raw).hexdigest())


def parse_yaml_file(path: Path) -> tuple[dict, dict, str]:
    """(mapping, top-level field lines, sha256) of a YAML file."""
    text, raw = read_text(path)
    data = _load(text, 1, "file") or {}
    if not isinstance(data, dict):
        raise FileProblem(1, "file", _("The file must be a set of fields."))
    return data, top_level_lines(text.splitlines(), 1), hashlib.sha256(raw).hexdigest()


def yaml_line_finder(path: Path):
    """A function giving the line of a nested value by a path of keys/indexes, as well as a
    plain YAML parse allows (the line where that mapping key or list item starts)."""
    text, _raw = read_text(path)
    try:
        root = yaml.compose(text, Loader=YAML_LOADER)
    except yaml.YAMLError:
        root = None

    def line(*keys) -> int:
        node, best = root, 1
        for key in keys:
            if node is None:
                break
            if isinstance(node, yaml.MappingNode):
                found = None
                for k, v in node.value:
                    if k.value == key:
                        found, best = v, k.start_mark.line + 1
                        break
                node = found
            elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
                node = node.value[key]
                best = node.start_mark.line + 1
            else:
                break
        return best

    return line
