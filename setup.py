"""The compiled part of segtool (``segtool._kernels``); everything else is in pyproject.toml.

Plain C against the CPython buffer protocol, no numpy headers: one build serves numpy 1 and 2.
On CPython 3.11 and later it is built for the stable ABI (the buffer protocol joined the
limited API in 3.11): one ``abi3`` wheel per platform serves every later CPython. 3.10 and
free-threaded builds get a wheel of their own.

The extension is optional: where it cannot be compiled (no C compiler, no Python headers),
setuptools says so and installs segtool without it, and segtool runs its pure-Python twin
(segtool/_purekernels, the same results, slower; ``segtool --version`` tells which runs).
See docs/install.md.
"""

import sys
import sysconfig

from setuptools import Extension, setup

STABLE_ABI = sys.version_info >= (3, 11) and not sysconfig.get_config_var("Py_GIL_DISABLED")

setup(
    ext_modules=[
        Extension(
            "segtool._kernels",
            sources=["segtool/_kernels.c"],
            optional=True,
            py_limited_api=STABLE_ABI,
            define_macros=[("Py_LIMITED_API", "0x030B0000")] if STABLE_ABI else [],
        )
    ],
    options={"bdist_wheel": {"py_limited_api": "cp311"}} if STABLE_ABI else {},
)
