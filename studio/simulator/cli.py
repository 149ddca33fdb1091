"""The simulator's command line (`studio simulate`, `python -m studio.simulator`): one flag per
SimSettings field, generated from the fields so the two cannot drift. A flag wins over its
STUDIO_SIM_* variable, which wins over the default; --help shows each field's description.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from typing import Any

from pydantic import BaseModel

from ..errors import SettingsError, StudioError
from .faults import API_ROUTES, STORAGE_ROUTES, Faults
from .server import Simulator
from .settings import SimSettings, checked_sim_settings, sim_env_name

# Earlier flag names kept where they differ from the field names.
FLAG_NAMES = {"credits_balance": "credits"}
FAULT_FLAG_NAMES = {"retry_after_s": "fault-retry-after", "include_storage": "fault-storage"}
NO_FLAG = {"upload_max_bytes", "faults"}  # a dict and the nested faults (which get --fault-* flags)
SERVE_POLL_S = 0.5
BAD_INPUT_EXIT = 2  # as `studio`: a bad flag, variable or address is one `error:` line


def _flag(name: str, prefix: str = "") -> str:
    return "--" + prefix + name.replace("_", "-")


def _annotation_kind(model: type[BaseModel], name: str) -> type:
    annotation = str(model.model_fields[name].annotation)
    for kind in (bool, int, float):
        if kind.__name__ in annotation.replace("frozenset", ""):
            return kind
    return str


def _add(parser: argparse.ArgumentParser, flag: str, dest: str, model: type[BaseModel], name: str, var: str) -> None:
    field = model.model_fields[name]
    kind = _annotation_kind(model, name)
    text = f"{field.description} ({var})"
    if kind is bool:
        parser.add_argument(
            flag, dest=dest, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS, help=text
        )
    else:
        parser.add_argument(
            flag, dest=dest, type=kind, default=argparse.SUPPRESS, metavar=kind.__name__.upper(), help=text
        )


def parser() -> argparse.ArgumentParser:
    "The argument parser: every SimSettings field and every Faults field (as --fault-*)."
    out = argparse.ArgumentParser(
        prog="studio simulate",
        description="Serve a local Mosaic API simulator. Each option overrides the STUDIO_SIM_* "
        "environment variable named in its help; unset options keep the variable or the default.",
        epilog=f"Route names for --fault-routes (comma list): {', '.join(API_ROUTES)}; with --fault-storage "
        f"also {', '.join(STORAGE_ROUTES)}. Faults can also be changed while running: POST /_sim/faults "
        'with JSON such as {"drop": 0.1, "routes": ["run"]}.',
    )
    for name in SimSettings.model_fields:
        if name not in NO_FLAG:
            flag = _flag(FLAG_NAMES.get(name, name))
            _add(out, flag, name, SimSettings, name, f"STUDIO_SIM_{name.upper()}")
    for name in Faults.model_fields:
        flag = "--" + FAULT_FLAG_NAMES.get(name, "fault-" + name.replace("_", "-"))
        _add(out, flag, "fault." + name, Faults, name, f"STUDIO_SIM_FAULTS__{name.upper()}")
    return out


def settings_from_args(argv: list[str] | None = None) -> SimSettings:
    "SimSettings from the environment with the given flags on top (SettingsError naming the flag or variable)."
    given: dict[str, Any] = vars(parser().parse_args(argv))
    fault_flags = {k.removeprefix("fault."): v for k, v in given.items() if k.startswith("fault.")}
    top = {k: v for k, v in given.items() if not k.startswith("fault.")}

    def name_of(path: tuple[str, ...]) -> str:
        "The flag when one set this field, else its variable."
        if path[0] == "faults":
            if len(path) > 1 and path[1] in fault_flags:
                return "--" + FAULT_FLAG_NAMES.get(path[1], "fault-" + path[1].replace("_", "-"))
        elif path[0] in top:
            return _flag(FLAG_NAMES.get(path[0], path[0]))
        return sim_env_name(path)

    if fault_flags:
        top["faults"] = {**checked_sim_settings().faults.model_dump(), **fault_flags}
    return checked_sim_settings(name_of, **top)


def serve(settings: SimSettings | None = None) -> None:
    "Serve the simulator on settings.host:settings.port until Ctrl-C or SIGTERM (blocks)."
    settings = settings or SimSettings()
    sim = Simulator(settings)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        sim.start(host=settings.host, port=settings.port)
    except OSError as err:  # the port is taken, or the address is not this machine's
        sim.stop()
        raise SettingsError(
            f"cannot listen on {settings.host}:{settings.port} (--host/--port, STUDIO_SIM_HOST/STUDIO_SIM_PORT): "
            f"{err.strerror or err}"
        ) from None
    mode = "realistic" if settings.realistic else f"{settings.latency} s + {settings.latency_per_second} s/s"
    print(
        f"Mosaic simulator listening on {sim.base_url} (latency {mode}, time scale {settings.time_scale}; "
        f"media in {sim.media_dir})",
        flush=True,
    )
    try:
        while sim.serving:
            time.sleep(SERVE_POLL_S)
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()


def main(argv: list[str] | None = None) -> int:
    "Command line: `studio simulate --port 8765 --realistic --time-scale 0.02`."
    try:
        settings = settings_from_args(argv)
        serve(settings)
    except StudioError as err:
        print(f"error: {err}", file=sys.stderr)
        return BAD_INPUT_EXIT
    return 0
