"""The compiled part of segtool (``segtool._kernels``); everything else is in pyproject.toml.

Plain C against the CPython buffer protocol, no numpy headers: one build serves numpy 1 and 2.

The extension is optional: where it cannot be compiled (no C compiler, no Python headers),
setuptools says so and installs segtool without it, and segtool runs its pure-Python twin
(segtool/_purekernels.py, the same results, slower; ``segtool --version`` tells which runs).
See docs/install.md.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("segtool._kernels", sources=["segtool/_kernels.c"], optional=True)])
