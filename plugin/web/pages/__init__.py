"""The server-rendered pages for clerks and admins."""
# their routes join the blueprint
from counterflow.web.pages import account, admin, destructions, printouts, records  # noqa: F401
from counterflow.web.pages import rating  # noqa: F401  (the applicant's result and rating on the status page)
from counterflow.web.pages import workflows  # noqa: F401  (processes: their admin pages)
from counterflow.web.pages import builder  # noqa: F401  (the form builder)
from counterflow.web.pages import designer  # noqa: F401  (the process designer and its JSON endpoints)
from counterflow.web.pages import gallery  # noqa: F401  (the template gallery, the numbering preview)
from counterflow.web.pages.common import bp, error_page

__all__ = ["bp", "error_page"]
