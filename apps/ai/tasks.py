"""Celery task: ctx.ai call retention (beat runs it hourly; apps.scheduler.beat)."""

from celery import shared_task

from .retention import prune_ai_calls

PRUNE_TASK = "imperal.prune_ai_calls"
PRUNER_NAME = "imperal:prune-ai-calls"


@shared_task(name=PRUNE_TASK)
def prune_ai_calls_task():
    """Delete ctx.ai call records past the retention period; return how many."""
    return prune_ai_calls()
