"""harness.toml's tables of defaults (issue 15, item 6): [run], [tasks.NAME], [systems.NAME]
(sub-tables where a system declares them), the command line over them, unknown tables and keys
refused by name; through the real command line."""

from __future__ import annotations

import json

import pytest
from conftest import harness, last_json

SCRIPTED = ["-p", "harness_test_scripted"]


def write_toml(workdir, text: str) -> None:
    (workdir / "harness.toml").write_text(text)


def spec_of(workdir, run_id):
    return json.loads((workdir / "results" / run_id / "run.json").read_text())


def test_task_table_gives_defaults_and_the_command_line_wins(workdir):
    write_toml(workdir, '[tasks.mbpp]\nconfig = "full"\nshow_tests = "first"\n')
    assert harness("list", "--task", "mbpp", cwd=workdir).stdout.splitlines()[-1] == "500 selected / 500 total"
    assert harness("list", "--task", "mbpp", "--task-opt", "config=sanitized", cwd=workdir).stdout.splitlines()[-1] == "257 selected / 257 total"


def test_run_table_gives_defaults_the_command_line_wins_and_resume_replays_the_run(workdir):
    write_toml(workdir, '[run]\nrepeats = 2\nsandbox = "local"\nbackend = "scripted:canonical"\nmax_concurrency = 1\n\n[systems.direct]\nmax_tokens = 64\n')
    proc = harness("run", *SCRIPTED, "--task", "humaneval", "--limit", "2", "--run-id", "a", "--json", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    assert last_json(proc.stdout)["attempts"] == 4
    spec = spec_of(workdir, "a")
    assert spec["resolved"]["sandbox"]["tier"] == "local" and spec["invocation"]["backend"] == "scripted:canonical"
    assert spec["invocation"]["options"]["repeats"] == 2 and spec["system"]["options"] == {"max_tokens": "64"}
    typed = harness("run", *SCRIPTED, "--task", "humaneval", "--limit", "2", "--repeats", "1", "--system-opt", "max_tokens=32", "--run-id", "b", "--json", cwd=workdir)
    assert last_json(typed.stdout)["attempts"] == 2 and spec_of(workdir, "b")["system"]["options"] == {"max_tokens": "32"}
    write_toml(workdir, '[run]\nrepeats = 5\nsandbox = "docker"\n\n[systems.direct]\nmax_tokens = 1\n')
    resumed = harness("run", *SCRIPTED, "--resume", "a", "--json", cwd=workdir)
    assert resumed.returncode == 0, resumed.stderr
    assert last_json(resumed.stdout)["attempts"] == 4  # the run's own options, not today's harness.toml
    assert spec_of(workdir, "a")["system"]["options"] == {"max_tokens": "64"} and spec_of(workdir, "a")["resolved"]["sandbox"]["tier"] == "local"


def test_system_table_reaches_the_system(workdir):
    write_toml(workdir, "[systems.sop]\nmax_fix_rounds = 2\nroles = [\"engineer\", \"qa_engineer\"]\n")
    proc = harness("run", "--system", "sop", "-p", "harness_test_sop_scripted", "--sandbox", "local", "--backend", "sopscript:right",
                   "humaneval::HumanEval/0", "--run-id", "s", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    system = spec_of(workdir, "s")["system"]
    assert system["options"] == {"max_fix_rounds": "2", "roles": "engineer,qa_engineer"}
    assert system["resolved"]["max_fix_rounds"] == 2 and system["resolved"]["roles"] == ["engineer", "qa_engineer"]


def test_a_system_may_take_nested_tables(workdir):
    """Issue 14's [systems.orchestrator.experts.NAME]: a system that lists the option in
    option_tables gets the sub-tables as dicts, validates them, and run.json records them."""
    write_toml(workdir, '[systems.tabled]\nnote = "x"\n\n[systems.tabled.experts.big]\nbackend = "openai:gpt-4o"\n\n[systems.tabled.experts.small]\nbackend = "llamacpp:smollm2"\ninput_price = 0.5\n')
    proc = harness("run", "--system", "tabled", "-p", "harness_test_tables", "--sandbox", "local", "--task", "humaneval", "--limit", "1", "--run-id", "t", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    assert spec_of(workdir, "t")["system"]["options"] == {"note": "x", "experts": {"big": {"backend": "openai:gpt-4o"}, "small": {"backend": "llamacpp:smollm2", "input_price": 0.5}}}
    resumed = harness("run", "-p", "harness_test_tables", "--resume", "t", cwd=workdir)
    assert resumed.returncode == 0, resumed.stderr
    write_toml(workdir, "[systems.tabled.experts.big]\nmodel = 3\n")
    refused = harness("list", "-p", "harness_test_tables", "--task", "humaneval", cwd=workdir)
    assert refused.returncode == 2 and "[systems.tabled]: system tabled: experts must be" in refused.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[model.m]\nbase_url = "http://x/v1"\n', "unknown table(s) [model]; did you mean models? harness.toml has the tables [run], [tasks.NAME], [systems.NAME], [models.NAME]"),
        ("repeats = 2\n", "unknown table(s) [repeats]"),
        ('[tasks.mbpp]\ncolour = "red"\n', "[tasks.mbpp]: task mbpp: unknown --task-opt ['colour']; known: ['challenge', 'config',"),
        ('[tasks.mbp]\nconfig = "full"\n', "[tasks.mbp]: no task 'mbp' is installed; did you mean mbpp? Known tasks: humaneval, mbpp"),
        ("[tasks]\nmbpp = 3\n", "'tasks' must be a table of [tasks.NAME] sections"),
        ("[systems.sop]\nmax_fix_round = 2\n", "[systems.sop]: system sop: unknown --system-opt ['max_fix_round']; known: feedback, max_fix_rounds"),
        ('[systems.sop.experts.a]\nbackend = "x"\n', "[systems.sop.experts]: system 'sop' takes no table option 'experts'"),
        ("[run]\nrepeat = 2\n", "[run] has unknown key 'repeat'; did you mean repeats? Known keys: backend,"),
        ("[run]\nlimit = 2\n", "[run] has unknown key 'limit' (it belongs to one invocation, not to the defaults)."),
        ('[run]\nrepeats = "two"\n', "[run]: repeats = 'two': not a valid --repeats"),
        ("[run]\nmax_concurrency = 2.5\n", "[run]: max_concurrency = 2.5: not a valid --max-concurrency"),
        ('[run]\nrole = [["a"]]\n', "[run]: role = [['a']]: give a value as for --role (or a list of them)"),
    ],
)
def test_unknown_tables_keys_and_bad_values_are_refused_by_name(workdir, text, message):
    write_toml(workdir, text)
    proc = harness("list", "--task", "humaneval", cwd=workdir)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
