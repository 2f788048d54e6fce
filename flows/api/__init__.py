"""The REST API (Django REST framework + drf-spectacular), versioned under ``/api/v1/``.

Views are thin callers of the same services, selectors and per-object checks as the web
pages: no rule lives only in a serializer. Flow steps run through ``flows.api.base``, which
takes viewflow's process lock and checks the task's permission as the web task pages do.
"""
