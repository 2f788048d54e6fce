import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.dev")

app = Celery("project")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Tasks acknowledge late, so Redis keeps a message a worker took until it is done. A pool
# process killed under a live worker has its task requeued at once (reject_on_worker_lost);
# a worker killed outright (SIGKILL, out of memory, a lost machine) cannot say so, and Redis
# hands its task to another worker once it is older than the visibility timeout. That must
# exceed the longest task, or a running task is delivered a second time (the tasks here are
# written to be safe to run twice). Kombu's default is an hour; the fault tests use seconds.
app.conf.broker_transport_options = {
    "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "3600")),
}
app.autodiscover_tasks()
