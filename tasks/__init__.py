"""Celery tasks. `celery -A tasks worker` finds the app in tasks/celery.py; tasks are thin wrappers over services."""
