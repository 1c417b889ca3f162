"""Developer tooling for Tollgate: never shipped to Lambda.

The Lambda layer is ``shared/`` (template.yaml's ``ContentUri``), so only the ``tollgate``
package runs in AWS. What developers, the tests and the bench use lives here, in ``dev/``:

- ``tollgate_dev.cli``: the ``tollgate`` command (``tollgate local``, ``tollgate local fire``,
  ``tollgate keys create``).
- ``tollgate_dev.local``: the local stack, built from template.yaml (moto server, resources,
  HTTP gateway, SQS pollers, schedules, state kept across restarts).
- ``tollgate_dev.cost``: counts DynamoDB requests and capacity units, for the tests and the bench.

``tollgate_dev`` imports ``tollgate``; ``tollgate`` never imports ``tollgate_dev`` (a unit
test checks it).
"""
