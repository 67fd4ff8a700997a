"""The compiled part of segtool (``segtool._kernels``); everything else is in pyproject.toml.

Plain C against the CPython buffer protocol, no numpy headers: one build serves numpy 1 and 2.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("segtool._kernels", sources=["segtool/_kernels.c"])])
