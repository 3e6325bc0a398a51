"""WSGI entry point (gunicorn emsp.wsgi). OCPI requests take a shorter middleware stack: emsp/handlers.py."""

import os

from emsp.handlers import get_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "emsp.settings")
application = get_application()
