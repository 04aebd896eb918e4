"""Files shipped into the sandbox with every MAS program (read as text, never imported by the
harness itself): ``utils.py``, the helper library programs import with ``from utils import *``,
and ``runner.py``, the job's main script that loads the program and calls ``MAS.forward``."""
