"""The local stack: template.yaml's resources on an embedded moto server, behind an HTTP
gateway, with the functions run in-process (see stack.py)."""

from .powertools_threads import isolate_metrics

isolate_metrics()  # before any handler makes its Metrics(): they share class-level sets otherwise
