# Sextant application image: one image for every process of the production
# shape (gunicorn web, Celery worker, Celery beat, ingest consumer, migrate).
# See docs/deploy.md and docker-compose.yml.
FROM python:3.11-slim

# PYTHONPATH=/app: import the app from the source tree, not from the copy pip
# installs into site-packages, because settings.BASE_DIR finds templates/ and
# static/ next to the analytics_app package.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=analytics_app.settings \
    SEXTANT_VAR_DIR=/var/lib/sextant \
    PYTHONPATH=/app

WORKDIR /app

# Dependencies first (their own layer, rebuilt only when pyproject.toml changes).
COPY pyproject.toml ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
print('\n'.join(p['dependencies'] + p['optional-dependencies']['prod']))" > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

COPY . .
RUN pip install --no-deps ".[prod]"

# An unprivileged user owns the var dir (celery beat's schedule file lives there).
# collectstatic runs with a throwaway SECRET_KEY so settings do not write one into the image.
RUN useradd --system --uid 10001 --home-dir /var/lib/sextant --shell /usr/sbin/nologin sextant \
 && mkdir -p /var/lib/sextant \
 && SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput -v 0 \
 && chown -R sextant:sextant /var/lib/sextant

USER sextant
EXPOSE 8000

CMD ["gunicorn", "analytics_app.wsgi:application", "--workers", "4", "--threads", "4", "--bind", "0.0.0.0:8000"]
