"""Test support shipped with the package: disposable databases on both backends.

Used by ramal's own tests and benchmarks, and usable by integrators who embed ramal in theirs.
"""
