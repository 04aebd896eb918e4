"""Internal: assembling a run from options, selecting samples, and scheduling them (asyncio)."""
