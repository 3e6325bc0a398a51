FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
# Invoice PDFs (WeasyPrint) need Pango and a font; HarfBuzz-Subset embeds only the glyphs used (without it
# WeasyPrint falls back to fontTools, which took half of each render).
RUN apt-get update && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
    libharfbuzz-subset0 \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.lock .
RUN pip install --no-cache-dir -r requirements.lock
COPY . .
RUN DEBUG=false SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["gunicorn", "emsp.wsgi", "-b", "0.0.0.0:8000", "-k", "gthread", "--workers", "4", "--threads", "4", "--reuse-port"]
