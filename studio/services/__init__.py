"""Use-cases the pages and the CLI call, one module per noun. Pages keep one front import:
`from studio import services as svc`.

- `app`: wiring and lifecycle (`Services`, `build_services`, `shared_services`)
- `generations`: queue, follow, wait for, cancel and retry takes
- `grids`: comparisons: plan, launch, reopen, A/B
- `gallery`: the history and its curation
- `library`: presets and references
- `estimates`: what a launch will request
- `account`: API mode, key check, credits
- `snippets`: drafts from earlier takes, API requests to copy
"""

from ..store import CountedPage, GalleryCount, GalleryQuery
from .account import api_status
from .app import Services, build_services, close_shared_services, shared_services
from .estimates import Estimate, cost_note, estimate
from .gallery import (
    MAX_NOTES_CHARS,
    MAX_RATING,
    MAX_TAG_CHARS,
    count,
    delete_generation,
    history,
    mark_winner,
    page_with_count,
    recent_failures,
    set_notes,
    set_rating,
    set_starred,
    set_tags,
)
from .generations import (
    MAX_TAKES,
    Draft,
    JobView,
    TakeLayout,
    can_cancel,
    can_retry,
    cancel,
    existing,
    generate,
    get,
    get_many,
    handle_webhook,
    last_run_draft,
    open_draft,
    progress,
    queue,
    retry,
    take_layout,
    wait_for,
)
from .grids import cell_label, compare_params, grid, grid_cells, grids, start_grid
from .library import (
    BROWSER_UPLOAD_MAX_MB,
    MAX_PRESET_NAME_CHARS,
    REFERENCE_MAX_COUNT,
    REFERENCES_DIR,
    UPLOAD_TYPES,
    AddResult,
    add_references,
    check_preset,
    check_references,
    delete_preset,
    load_preset,
    presets,
    references,
    save_preset,
    upload_reference,
)
from .snippets import DRAFT_KEEP, api_request, draft_from

__all__ = [
    "BROWSER_UPLOAD_MAX_MB",
    "DRAFT_KEEP",
    "MAX_NOTES_CHARS",
    "MAX_PRESET_NAME_CHARS",
    "MAX_RATING",
    "MAX_TAG_CHARS",
    "MAX_TAKES",
    "REFERENCES_DIR",
    "REFERENCE_MAX_COUNT",
    "UPLOAD_TYPES",
    "AddResult",
    "CountedPage",
    "Draft",
    "Estimate",
    "GalleryCount",
    "GalleryQuery",
    "JobView",
    "Services",
    "TakeLayout",
    "add_references",
    "api_request",
    "api_status",
    "build_services",
    "can_cancel",
    "can_retry",
    "cancel",
    "cell_label",
    "check_preset",
    "check_references",
    "close_shared_services",
    "compare_params",
    "cost_note",
    "count",
    "delete_generation",
    "delete_preset",
    "draft_from",
    "estimate",
    "existing",
    "generate",
    "get",
    "get_many",
    "grid",
    "grid_cells",
    "grids",
    "handle_webhook",
    "history",
    "last_run_draft",
    "load_preset",
    "mark_winner",
    "open_draft",
    "page_with_count",
    "presets",
    "progress",
    "queue",
    "recent_failures",
    "references",
    "retry",
    "save_preset",
    "set_notes",
    "set_rating",
    "set_starred",
    "set_tags",
    "shared_services",
    "start_grid",
    "take_layout",
    "upload_reference",
    "wait_for",
]
