from django.apps import AppConfig


class AIConfig(AppConfig):
    name = "apps.ai"
    label = "ai"
    verbose_name = "Model calls (ctx.ai)"

    def ready(self):
        from .provider import check_settings

        # A provider name imperal-sdk does not know stops the start, by name.
        check_settings()
