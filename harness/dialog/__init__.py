"""Dialog tasks: multi-turn, tool-using conversations between the system under test (the agent)
and a simulated user, on an environment the task owns (tau2-bench and the like).

Public for plugins: `Dialog` (what `System.act` receives), `Conversation` and `Turn` (the
episode's state), `DialogTask` and `EpisodeSetup` (what a task provides), `run_episode` and
`EpisodeLimits` (the loop), `ModelUser` (a simulated user played by a model role),
`take_turn` (one tool-calling turn of a model) and `parse_tool_calls` (Hermes-style
``<tool_call>`` text -> tool calls).
"""

from harness.dialog.calling import take_turn
from harness.dialog.conversation import (
    AGENT,
    ENVIRONMENT,
    USER,
    Conversation,
    Dialog,
    Turn,
)
from harness.dialog.episode import (
    TERMINATIONS,
    Environment,
    Episode,
    EpisodeLimits,
    ToolResult,
    execute_call,
    run_episode,
)
from harness.dialog.hermes import parse_tool_calls
from harness.dialog.task import DialogTask, EpisodeSetup, ReferenceCheck
from harness.dialog.user import ModelUser

__all__ = [
    "AGENT",
    "ENVIRONMENT",
    "TERMINATIONS",
    "USER",
    "Conversation",
    "Dialog",
    "DialogTask",
    "Environment",
    "Episode",
    "EpisodeLimits",
    "EpisodeSetup",
    "ModelUser",
    "ReferenceCheck",
    "ToolResult",
    "Turn",
    "execute_call",
    "parse_tool_calls",
    "run_episode",
    "take_turn",
]
