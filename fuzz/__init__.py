"""Fuzz harness for segtool's readers and C kernels (see fuzz/README.md).

``python -m fuzz`` runs it; ``tests/test_fuzz.py`` runs every target briefly in ``make test``.
"""
