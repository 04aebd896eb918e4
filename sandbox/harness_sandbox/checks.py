"""`harness sandbox check --sandbox docker`: is the engine there, and does isolation hold?

The isolation rows are not read off the container's configuration: probe programs run in a real
pool container and try what a hostile program would (connect out, write outside the work dir,
fork without end, allocate without end) and report what happened.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from harness import CheckRow, HarnessError, Limits
from harness.codetasks.testrunner import judge
from harness_sandbox.engine import (
    EngineSpec,
    connect,
    engine_specs,
    find_image,
    image_tag,
)

#: Prints a JSON object of facts about the sandbox, as seen from inside.
PROBE = r"""
import json, os, socket
facts = {"uid": os.getuid()}
status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
facts["caps"] = {k: int(status[k], 16) for k in ("CapEff", "CapPrm", "CapBnd")}
facts["no_new_privs"] = status["NoNewPrivs"].strip() == "1"
facts["interfaces"] = sorted(os.listdir("/sys/class/net"))
def attempt(action):
    try:
        action()
        return "succeeded"
    except Exception as exc:
        return type(exc).__name__
facts["tcp_out"] = attempt(lambda: socket.create_connection(("1.1.1.1", 53), timeout=3))
facts["dns"] = attempt(lambda: socket.getaddrinfo("example.com", 443))
facts["writable_outside"] = [d for d in ("/", "/etc", "/usr", "/var", "/var/tmp", "/root", "/home", "/opt", "/run", "/srv")
                             if attempt(lambda: open(os.path.join(d, "probe"), "w").close()) == "succeeded"]
facts["work_dir_writable"] = attempt(lambda: open("probe", "w").close()) == "succeeded"
print(json.dumps(facts))
"""

#: Forks sleeping children until fork fails; prints how many it got.
FORK_PROBE = r"""
import os, time
children = []
try:
    while len(children) < 5000:
        pid = os.fork()
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        children.append(pid)
except OSError:
    pass
print(len(children))
"""

#: Makes one request over the RPC bridge (harness_sandbox.rpc) and prints the reply.
RPC_PROBE = r"""
import json, os
request, reply = (int(fd) for fd in os.environ["HARNESS_RPC_FDS"].split(","))
os.write(request, b'{"id": 1, "method": "ping", "params": 41}\n')
print(open(reply, "rb").readline().decode().strip())
"""

#: The libraries the image provides for generated programs (image.PACKAGES).
LIBRARIES_PROBE = "import numpy, sympy\nprint(numpy.__version__, sympy.__version__)\n"

#: Writes a forged "passed" report on every descriptor, then tries to end its process before the
#: runner reports; its own test fails.
FORGERY_PROBE = r"""
import os, _imp, importlib.machinery
for fd in range(3, 64):
    try:
        os.write(fd, b'{"status":"passed","exception":null,"message":null,"tamper":[]}')
    except OSError:
        pass
try:
    _imp.create_builtin(importlib.machinery.ModuleSpec("posix", None))._exit(0)
finally:
    os._exit(0)
assert False
"""

#: Touches 3 GiB with no rlimit on address space: only the container's memory limit stops it.
MEMORY_PROBE = "data = b'\\x01' * (3 << 30)\nprint(len(data))\n"


def _isolation_rows(facts: dict[str, Any]) -> list[CheckRow]:
    caps = facts["caps"]
    return [
        CheckRow("no network", facts["interfaces"] == ["lo"] and facts["tcp_out"] != "succeeded" and facts["dns"] != "succeeded",
                 f"interfaces {facts['interfaces']}, TCP connect: {facts['tcp_out']}, DNS: {facts['dns']}"),
        CheckRow("read-only outside the work dir", not facts["writable_outside"] and facts["work_dir_writable"],
                 f"writable outside: {facts['writable_outside'] or 'none'}; work dir writable: {facts['work_dir_writable']}"),
        CheckRow("unprivileged uid", facts["uid"] != 0, f"uid {facts['uid']}"),
        CheckRow("capabilities dropped", not any(caps.values()), ", ".join(f"{k}={v:#x}" for k, v in caps.items())),
        CheckRow("no-new-privileges", facts["no_new_privs"], f"NoNewPrivs={int(facts['no_new_privs'])}"),
    ]


async def _probe(cls: type, config: Any) -> list[CheckRow]:
    box = cls(config)
    try:
        await box.start()
        hello = await box.run({}, ["python3", "-c", "print('hello')"], timeout=10)
        rows = [CheckRow("round trip", hello.stdout == "hello\n", f"{hello.duration * 1000:.0f} ms in the container")]


        async def ping(method: str, params: Any) -> Any:
            return params + 1

        bridged = await box.run({"rpc.py": RPC_PROBE}, ["python3", "rpc.py"], timeout=10, rpc=ping)
        rows.append(CheckRow("rpc bridge", bridged.stdout.strip() == '{"id":1,"result":42}', bridged.stdout.strip() or bridged.stderr[-300:]))
        libraries = await box.run({"libs.py": LIBRARIES_PROBE}, ["python3", "libs.py"], timeout=30)
        rows.append(CheckRow("numpy and sympy", libraries.exit_code == 0,
                             f"numpy {libraries.stdout.split()[0]}, sympy {libraries.stdout.split()[1]}" if libraries.exit_code == 0
                             else f"{libraries.stderr.strip()[-200:]} (rebuild the image: `harness sandbox build --offline --force`)"))
        facts = await box.run({"probe.py": PROBE}, ["python3", "probe.py"], timeout=30)
        if facts.exit_code != 0:
            return rows + [CheckRow("isolation probe", False, facts.stderr[-500:])]
        rows += _isolation_rows(json.loads(facts.stdout))
        for name, processes, ceiling in (("process rlimit", 32, 32), ("container pids limit", None, box.pids_limit)):
            forks = await box.run({"forks.py": FORK_PROBE}, ["python3", "forks.py"], timeout=30, limits=Limits(processes=processes))
            count = int(forks.stdout or 0)
            rows.append(CheckRow(name, forks.exit_code == 0 and count < ceiling, f"fork failed after {count} children (limit {ceiling})"))
        forged = judge(await box.run_program(FORGERY_PROBE, cpu_limit=5.0, wall_limit=25.0), 5.0)
        rows.append(CheckRow("unforgeable verdicts", forged.status == "error" and bool(forged.tamper),
                             f"a program that forges its report: {forged.status} ({forged.reason}); evidence: {'; '.join(forged.tamper)}"))
        memory = await box.run({"mem.py": MEMORY_PROBE}, ["python3", "mem.py"], timeout=30, limits=Limits(memory_mb=None))
        rows.append(CheckRow("memory limit", memory.oom and memory.exit_code != 0,
                             f"3 GiB allocation without rlimit: exit {memory.exit_code}, oom={memory.oom}"))
        return rows
    finally:
        await box.close()


def _engine_checks(cls: type, config: Any, spec: EngineSpec) -> list[CheckRow]:
    try:
        client = connect(spec)
    except HarnessError as exc:
        return [CheckRow("engine reachable", False, str(exc))]
    rows = [CheckRow("engine reachable", True, f"Docker {client.version().get('Version')} at {client.api.base_url}")]
    tag = image_tag(config)
    try:
        image = find_image(client, tag, spec.name)
    except HarnessError as exc:
        return rows + [CheckRow("image present", False, str(exc))]
    finally:
        client.close()
    rows.append(CheckRow("image present", True, f"{tag} ({image.id})"))
    only_this = {"sandbox_pool": 1, "sandbox_engine": [spec.url] if spec.url else None}
    probe_config = type(config)(argparse.Namespace(**{**vars(config.options), **only_this}), config.plugins, settings=config.settings)
    try:
        return rows + asyncio.run(_probe(cls, probe_config))
    except HarnessError as exc:
        return rows + [CheckRow("round trip", False, str(exc))]


def run_checks(cls: type, config: Any) -> list[CheckRow]:
    """Every row for each engine the sandbox uses; with several, each row's name ends with [URL]."""
    specs = engine_specs(config)
    if len(specs) == 1:
        return _engine_checks(cls, config, specs[0])
    return [CheckRow(f"{row.check} [{spec.name}]", row.ok, row.detail) for spec in specs for row in _engine_checks(cls, config, spec)]
