"""mas-harness: does this multi-agent system beat the model alone, on which benchmark, at what cost?"""

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("harness")

__all__ = ["__version__", "hookimpl"]
