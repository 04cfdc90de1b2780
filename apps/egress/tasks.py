"""Celery task: outbound call retention (beat runs it hourly; apps.scheduler.beat)."""

from celery import shared_task

from .retention import prune_outbound_calls

PRUNE_TASK = "imperal.prune_outbound_calls"
PRUNER_NAME = "imperal:prune-outbound-calls"


@shared_task(name=PRUNE_TASK)
def prune_outbound_calls_task():
    """Delete outbound call records past the retention period; return how many."""
    return prune_outbound_calls()
