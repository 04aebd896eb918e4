"""A MAS program that tries to reach the network and the host's files, directly and through
execute_code; it answers with what it got (tests/test_masgpt_sandbox.py)."""

from utils import *

PROBE = r'''
import json, os, socket
got = {}
for name, target in [("dns", ("1.1.1.1", 53)), ("http", ("93.184.216.34", 80)), ("host_gateway", ("172.17.0.1", 2375))]:
    try:
        socket.create_connection(target, timeout=2).close()
        got[name] = "connected"
    except OSError as exc:
        got[name] = f"refused: {type(exc).__name__}"
try:
    socket.getaddrinfo("pypi.org", 443)
    got["resolve"] = "resolved"
except OSError as exc:
    got["resolve"] = f"refused: {type(exc).__name__}"
for path in [SECRET, "/var/run/docker.sock", "/root/.ssh", "/home"]:
    try:
        got[path] = open(path).read() if os.path.isfile(path) else sorted(os.listdir(path))
    except OSError as exc:
        got[path] = f"refused: {type(exc).__name__}"
output = json.dumps(got)
'''


class MAS():
    def __init__(self, model_list):
        self.llm = LLM(model_list)

    def forward(self, taskInfo):
        probe = PROBE.replace("SECRET", repr(taskInfo))
        namespace = {}
        exec(probe, namespace)
        nested = execute_code(probe, timeout=20)
        return json.dumps({"direct": json.loads(namespace["output"]), "nested": nested})
