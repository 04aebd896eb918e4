"""Files shipped into the sandbox with every workflow job (read as text, never imported by the
harness itself): ``operators.py``, the operator library that workflows use; ``harness_rpc.py``,
the job's end of the sandbox's RPC bridge; ``runner.py``, the job's main script."""
