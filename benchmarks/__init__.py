"""Benchmarks of launchbot's speed, each figure against a floor measured in the same run.

Run ``python -m benchmarks`` (or ``make bench``); ``--quick`` runs every piece at tiny sizes. These
are not tests: nothing here asserts a timing. Results: ``benchmarks/RESULTS.md`` and
``benchmarks/out/*.json``.
"""
