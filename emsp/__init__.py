"""The EMSP platform's Django project package.

Importing the Celery app here makes `@shared_task` bind to it and `celery -A emsp` find it.
"""

from .celery import app as celery_app

__all__ = ("celery_app",)
