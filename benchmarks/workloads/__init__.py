"""The benchmark workloads; each module has ``run(settings) -> dict`` (see ``run.py``)."""
