"""Benchmarks against the Celery ceiling: ``python -m bench [figure ...]``.

Every figure is measured next to a bare-Celery baseline in the same run and reported as a
ratio (median of N runs, with min-max), because absolute numbers on a shared machine are noise.
"""
