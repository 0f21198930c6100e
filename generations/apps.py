import logging

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

log = logging.getLogger(__name__)


def _kick_on_worker_start(**_: object) -> None:
    """A worker that (re)starts resumes the pipeline at once instead of waiting for the
    sweeper: after a crash, dispatchers come back within one lease."""
    import os

    from django.db import DatabaseError

    from generations.pipeline import kick

    try:
        # The cluster's workers share their parent process: it names this start.
        kick(after_start=f"{os.uname().nodename}:{os.getppid()}")

    except DatabaseError:
        log.warning("could not resume the pipeline at worker start; the sweeper will")


class GenerationsConfig(AppConfig):
    name = "generations"
    verbose_name = _("Studio")

    def ready(self) -> None:
        from django_q.signals import post_spawn

        from generations import checks  # noqa: F401 - registers the deploy checks

        post_spawn.connect(_kick_on_worker_start, dispatch_uid="generations-kick-on-spawn")
