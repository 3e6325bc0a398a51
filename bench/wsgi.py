import os

from emsp.handlers import get_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
application = get_application()
