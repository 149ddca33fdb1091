"""A local Mosaic for keyless use, tests and benchmarks: a real HTTP server with the shapes of
mosaic-api.md whose takes look like Seedance 2's (sizes, 24 fps, mono audio, minutes-long runs
on request). Configure it with `SimSettings` (env `STUDIO_SIM_*`); start it with
`Simulator(SimSettings(...)).start()` or `studio simulate`. The app reaches it over HTTP only.

Modules: server (lifecycle, shared state), routes (table, endpoint wrapper), agents, runs,
uploads, scheduler, webhooks, faults, rendering, state (records, state file), protocol (wire
helpers), settings, cli.
"""

from .cli import main, serve
from .faults import API_ROUTES, FAULT_KINDS, STORAGE_ROUTES, Faults
from .server import Simulator
from .settings import SimConfig, SimSettings

__all__ = [
    "API_ROUTES",
    "FAULT_KINDS",
    "STORAGE_ROUTES",
    "Faults",
    "SimConfig",
    "SimSettings",
    "Simulator",
    "main",
    "serve",
]
