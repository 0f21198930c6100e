from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GenerationsConfig(AppConfig):
    name = "generations"
    verbose_name = _("Studio")

    def ready(self) -> None:
        # Imported here, once the app registry is ready (Django's rule for AppConfig).
        from django_q.signals import post_spawn

        from generations import checks  # noqa: F401 - registers the deploy checks
        from generations.services import pipeline

        post_spawn.connect(pipeline.resume_at_worker_start, dispatch_uid="generations-resume")
        post_spawn.connect(pipeline.listen_for_stop, dispatch_uid="generations-stop")
