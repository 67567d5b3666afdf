"""Fixtures shared by the test modules."""

import functools

import pytest


@pytest.fixture
def eager(monkeypatch):
    """Compile Keras models without graph tracing, which dominates one-epoch
    fits on tiny data."""
    from classifiers import training

    monkeypatch.setattr(training, "compile_for_task",
                        functools.partial(training.compile_for_task, run_eagerly=True))
