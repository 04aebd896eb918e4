"""The Role base class and the three planning roles (Product Manager, Architect, Project Manager).

A role has a profile (name, title, goal, constraints), the action it performs, the actions whose
documents it needs and, optionally, actions it reacts to. The team computes what it watches: the
needed actions that some member of this team performs (plus the user's requirement) are its
prerequisites; it acts only once all of them have arrived.
"""

from __future__ import annotations

from typing import ClassVar

from harness import Message
from harness_sop.documents import PRD, Document, SystemDesign, TaskList
from harness_sop.messages import USER_REQUIREMENT, Envelope
from harness_sop.office import Office

WRITE_PRD, WRITE_DESIGN, WRITE_TASKS = "WritePRD", "WriteDesign", "WriteTasks"
WRITE_CODE, WRITE_TESTS, RUN_TESTS = "WriteCode", "WriteTests", "RunTests"
#: Characters of one upstream document shown in a prompt (small models have small contexts).
DOC_CHARS = 1500


class Role:
    key: ClassVar[str] = ""  # the model role (``--role KEY=SPEC``) and the address in the pool
    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    goal: ClassVar[str] = ""
    constraints: ClassVar[str] = ""
    action: ClassVar[str] = ""
    needs: ClassVar[tuple[str, ...]] = (USER_REQUIREMENT,)
    #: The needed documents shown in the role's prompts (None: all of ``needs``).
    reads: ClassVar[tuple[str, ...] | None] = None
    reacts_to: ClassVar[tuple[str, ...]] = ()

    def __init__(self, office: Office, performed: set[str]) -> None:
        """``performed``: the actions some member of the team performs."""
        self.office = office
        self.requires = frozenset(a for a in self.needs if a == USER_REQUIREMENT or a in performed)
        self.watch = self.requires | frozenset(self.reacts_to)
        self.inbox: list[Envelope] = []
        self.memory: dict[str, Envelope] = {}  # the latest envelope of each watched action

    def receive(self, envelope: Envelope) -> None:
        self.inbox.append(envelope)

    @property
    def has_news(self) -> bool:
        return bool(self.inbox)

    async def step(self) -> list[Envelope]:
        """Read the news; act if every prerequisite has arrived. Returns what to publish."""
        news, self.inbox = self.inbox, []
        for envelope in news:
            self.memory[envelope.cause_by] = envelope
        if not self.requires <= self.memory.keys():
            return []
        self.office.phase(f"round {self.office.round}: {self.title}")
        return await self.act(news)

    async def act(self, news: list[Envelope]) -> list[Envelope]:
        raise NotImplementedError

    # --- prompts -----------------------------------------------------------------------------

    def system_prompt(self) -> str:
        return f"You are {self.name}, the {self.title}. Your goal: {self.goal} Constraints: {self.constraints}"

    def context(self) -> str:
        """The requirement and every upstream document this role has received."""
        brief = self.office.brief
        parts = [f"# Requirement\n{brief.requirement.strip()}\n\n{brief.contract()}"]
        for action in self.reads or self.needs:
            envelope = self.memory.get(action)
            if action != USER_REQUIREMENT and envelope is not None and envelope.document is not None:
                parts.append(envelope.document.render()[:DOC_CHARS])
        return "\n\n".join(parts)

    def messages(self, instruction: str) -> list[Message]:
        return [Message("system", self.system_prompt()), Message("user", f"{self.context()}\n\n# Your task\n{instruction}")]

    def document(self, action: str) -> Document | None:
        envelope = self.memory.get(action)
        return None if envelope is None else envelope.document


class _Writer(Role):
    """A planning role: writes its one document once its prerequisites are in."""

    produces: ClassVar[type[Document]]
    instruction: ClassVar[str] = ""

    def __init__(self, office: Office, performed: set[str]) -> None:
        super().__init__(office, performed)
        self.done = False

    async def act(self, news: list[Envelope]) -> list[Envelope]:
        if self.done:
            return []
        self.done = True
        document = await self.office.document(self.key, self.messages(self.instruction), self.produces)
        return [Envelope(document.render(), self.action, self.key, document=document)]


class ProductManager(_Writer):
    key = "product_manager"
    name, title = "Alice", "Product Manager"
    goal = "turn the user's requirement into a clear product requirement document."
    constraints = "Stay within the requirement; keep every item short; name what is unclear instead of guessing."
    action = WRITE_PRD
    produces = PRD
    instruction = "Write the product requirement document: goals, user stories, requirement analysis, requirement pool, unclear points."


class Architect(_Writer):
    key = "architect"
    name, title = "Bob", "Architect"
    goal = "design a simple, correct implementation in Python using the standard library only."
    constraints = "Keep the design minimal; keep the function names and signatures the requirement gives."
    action = WRITE_DESIGN
    needs = (USER_REQUIREMENT, WRITE_PRD)
    produces = SystemDesign
    instruction = "Write the system design: implementation approach, file list, data structures and interfaces, program call flow."


class ProjectManager(_Writer):
    key = "project_manager"
    name, title = "Eve", "Project Manager"
    goal = "break the design into an ordered list of files to write, dependencies first."
    constraints = "Use only the files of the design; say what each file must do."
    action = WRITE_TASKS
    needs = (USER_REQUIREMENT, WRITE_PRD, WRITE_DESIGN)
    produces = TaskList
    instruction = "Write the task list: logic analysis per file, the ordered task list, shared knowledge."
