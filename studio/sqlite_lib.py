"""sqlite-utils, as the studio imports it: without pandas and numpy in a process that has no use for them.

sqlite-utils imports pandas and numpy whenever they are installed (Streamlit brings both), only to
map their types to column types; the studio never hands it either. In a process without Streamlit
(every `studio` command, a worker, the simulator) that import was most of the start-up: about
0.5 s of CPU of every command. The web server imports pandas for its pages anyway, so there it
changes nothing. Only this first import of sqlite-utils sees them hidden; a later
`import numpy` works as usual.
"""

from __future__ import annotations

import sys

_HIDDEN = () if "streamlit" in sys.modules else tuple(m for m in ("pandas", "numpy") if m not in sys.modules)
for _name in _HIDDEN:
    sys.modules[_name] = None  # type: ignore[assignment]  # `import_module` then raises ImportError
try:
    from sqlite_utils import Database
    from sqlite_utils.migrations import Migrations
finally:
    for _name in _HIDDEN:
        if sys.modules.get(_name, 0) is None:
            del sys.modules[_name]

__all__ = ["Database", "Migrations"]
