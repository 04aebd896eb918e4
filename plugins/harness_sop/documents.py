"""The documents the roles hand each other, as pydantic models.

Documents written by a model (`PRD`, `SystemDesign`, `TaskList`) are validated leniently: keys
are normalised (``"User Stories"`` -> ``user_stories``), a string where a list belongs is split into
lines, a list where a string belongs is joined, a bare string where an object belongs fills the
object's main field. Every such coercion is reported through the validation context (key
``"repairs"``) so that it is counted like a JSON repair. The limits in ``json_schema_extra`` and
the required fields of `Document.guidance_schema` only shape the JSON Schema sent for guided
decoding (they keep a small model from rambling, or from answering ``{}``); parsing does not
enforce them.

Documents built by code (`Code`, `TestReport`) are plain models.
"""

from __future__ import annotations

import json
import re
import typing
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

_BULLET = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+")


def _text(description: str, max_length: int = 300) -> Any:
    return Field(default="", description=description, json_schema_extra={"maxLength": max_length})


def _items(description: str, max_items: int = 5, min_items: int = 1) -> Any:
    return Field(default_factory=list, description=description, json_schema_extra={"minItems": min_items, "maxItems": max_items})


def _lines(description: str, max_items: int = 5, min_items: int = 1) -> Any:
    """A list of short strings."""
    limits = {"minItems": min_items, "maxItems": max_items, "items": {"type": "string", "maxLength": 150}}
    return Field(default_factory=list, description=description, json_schema_extra=limits)


def _key(name: str) -> str:
    return re.sub(r"\W+", "_", name.strip().lower()).strip("_")


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_as_text(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "\n".join(_as_text(v) for v in value)
    return "" if value is None else json.dumps(value)


def _as_lines(text: str) -> list[str]:
    return [_BULLET.sub("", line).strip() for line in text.splitlines() if line.strip()]


class Document(BaseModel):
    """Base of every document: lenient validation, a prompt rendering, a JSON template."""

    model_config = ConfigDict(extra="ignore")
    #: Heading in prompts and the transcript.
    title: ClassVar[str] = ""
    #: The field a bare string fills when a list of these objects holds a string.
    primary: ClassVar[str] = ""

    @model_validator(mode="before")
    @classmethod
    def _lenient(cls, data: Any, info: ValidationInfo) -> Any:
        repairs: list[str] = (info.context or {}).get("repairs", [])
        if isinstance(data, str) and cls.primary:
            repairs.append(f"{cls.__name__}: bare string")
            return {cls.primary: data}
        if isinstance(data, list) and len(data) == 1 and isinstance(data[0], dict):
            repairs.append(f"{cls.__name__}: unwrapped a one-item list")
            data = data[0]
        if not isinstance(data, dict):
            return data
        if len(data) == 1 and _key(next(iter(data))) not in cls.model_fields and isinstance(next(iter(data.values())), dict):
            repairs.append(f"{cls.__name__}: unwrapped {next(iter(data))!r}")
            data = next(iter(data.values()))
        out: dict[str, Any] = {}
        for raw_key, value in data.items():
            key = _key(str(raw_key))
            if key != raw_key and key in cls.model_fields:
                repairs.append(f"{cls.__name__}: key {raw_key!r}")
            field = cls.model_fields.get(key)
            if field is not None:
                out[key] = cls._coerce(key, field.annotation, value, repairs)
        return out

    @classmethod
    def _coerce(cls, key: str, annotation: Any, value: Any, repairs: list[str]) -> Any:
        if annotation is str and not isinstance(value, str):
            repairs.append(f"{cls.__name__}.{key}: joined into text")
            return _as_text(value)
        if typing.get_origin(annotation) is list:
            (item,) = typing.get_args(annotation)
            if value is None:
                return []
            if isinstance(value, str):
                repairs.append(f"{cls.__name__}.{key}: split text into items")
                return _as_lines(value)
            if isinstance(value, dict):
                repairs.append(f"{cls.__name__}.{key}: object as a list")
                value = [value] if item is not str else [f"{k}: {_as_text(v)}" for k, v in value.items()]
            if item is str and any(not isinstance(v, str) for v in value):
                repairs.append(f"{cls.__name__}.{key}: items as text")
                return [_as_text(v) for v in value]
        return value

    @classmethod
    def parse(cls, value: Any) -> tuple[Document, list[str]]:
        """Validate ``value`` leniently; returns the document and the coercions it needed."""
        repairs: list[str] = []
        return cls.model_validate(value, context={"repairs": repairs}), repairs

    @classmethod
    def guidance_schema(cls) -> dict[str, Any]:
        """The JSON Schema for guided decoding: every field required (parsing stays lenient)."""
        schema = cls.model_json_schema()
        for node in [schema, *schema.get("$defs", {}).values()]:
            node["required"] = list(node.get("properties", {}))
        return schema

    @classmethod
    def template(cls) -> dict[str, Any]:
        """A JSON example whose values describe what goes there (for prompts without guidance)."""
        out: dict[str, Any] = {}
        for name, field in cls.model_fields.items():
            annotation = field.annotation
            if typing.get_origin(annotation) is list:
                (item,) = typing.get_args(annotation)
                out[name] = [item.template() if isinstance(item, type) and issubclass(item, Document) else f"<{field.description}>"]
            else:
                out[name] = f"<{field.description}>"
        return out

    def render(self) -> str:
        """The document as short Markdown, for the next role's prompt."""
        lines = [f"## {self.title}"] if self.title else []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if not value:
                continue
            lines.append(f"### {name.replace('_', ' ').capitalize()}")
            if isinstance(value, list):
                lines.extend(f"- {v.inline() if isinstance(v, Document) else v}" for v in value)
            else:
                lines.append(str(value))
        return "\n".join(lines)

    def inline(self) -> str:
        return ", ".join(f"{k}: {v}" for k, v in self.model_dump().items() if v)


# --- written by models ----------------------------------------------------------------------


class RequirementItem(Document):
    primary: ClassVar[str] = "requirement"
    requirement: str = _text("one requirement", 200)
    priority: str = Field(default="P1", description="P0 (must), P1 (should) or P2 (nice to have)", json_schema_extra={"maxLength": 2})


class PRD(Document):
    """The Product Manager's product requirement document."""

    title: ClassVar[str] = "Product requirement document"
    goals: list[str] = _lines("a product goal", 3)
    user_stories: list[str] = _lines("a user story: as a ..., I want ... so that ...", 3)
    requirement_analysis: str = _text("what the requirement really asks for, edge cases included")
    requirement_pool: list[RequirementItem] = _items("a requirement with its priority", 5)
    unclear_points: list[str] = _lines("something the requirement leaves open", 3, min_items=0)


class SystemDesign(Document):
    """The Architect's system design."""

    title: ClassVar[str] = "System design"
    implementation_approach: str = _text("how to implement it: algorithm, libraries")
    file_list: list[str] = _lines("a Python file of the project, e.g. main.py", 4)
    data_structures_and_interfaces: str = _text("classes and function signatures, with types")
    program_call_flow: str = _text("which function calls which, in order")


class FileLogic(Document):
    primary: ClassVar[str] = "logic"
    file: str = _text("a file from the design's file list", 60)
    logic: str = _text("what this file implements and what it depends on", 200)


class TaskList(Document):
    """The Project Manager's task breakdown."""

    title: ClassVar[str] = "Task list"
    logic_analysis: list[FileLogic] = _items("what each file does", 4)
    task_list: list[str] = _lines("a file to write, dependencies first", 4)
    shared_knowledge: str = _text("conventions and helpers every file shares", 200)


# --- built by code ----------------------------------------------------------------------------


def render_files(files: dict[str, str]) -> str:
    return "\n\n".join(f"### {path}\n```python\n{source.rstrip()}\n```" for path, source in files.items())


class Code(Document):
    """One version of the Engineer's code: relative path -> source."""

    title: ClassVar[str] = "Code"
    version: int
    files: dict[str, str]
    answer: str = ""  # benchmark mode: the text handed to the task's scorer
    notes: list[str] = Field(default_factory=list)  # extraction decisions

    def render(self) -> str:
        return render_files(self.files)


class TestSuite(Document):
    """QA's tests: relative path -> source."""

    title: ClassVar[str] = "Tests"
    files: dict[str, str]

    def render(self) -> str:
        return render_files(self.files)


class CheckFailure(BaseModel):
    suite: str  # "examples" (from the task statement), "qa" (QA's tests) or "load" (importing)
    name: str
    error: str


class TestReport(Document):
    """QA's verdict on one version of the code."""

    title: ClassVar[str] = "Test report"
    code_version: int
    passed: bool  # some test ran, and nothing failed
    examples_passed: bool  # the task statement's examples ran, and all of them passed
    tested: bool  # some test ran (not only the loading of the modules)
    ran: int
    failures: list[CheckFailure] = Field(default_factory=list)
    output: str = ""  # what the run printed when it did not report (crash, timeout)

    def render(self) -> str:
        if self.failures:
            verdict = f"{len(self.failures)} of {self.ran} checks failed"
        else:
            verdict = "all checks passed" if self.tested else "the code loads, but no test ran"
        lines = [f"## Test report for code version {self.code_version}: {verdict}"]
        for failure in self.failures:
            origin = {"examples": "example from the task statement", "qa": "QA's test (it may be wrong itself)", "load": "loading the code"}[failure.suite]
            lines.append(f"- {failure.name} [{origin}]:\n{failure.error.strip()}")
        if self.output:
            lines.append(self.output.strip())
        return "\n".join(lines)

