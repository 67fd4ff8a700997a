"""The argument checks every kernel of the twin shares, as the C file's: buffers taken as the
C code's ``PyObject_GetBuffer`` takes them (``_take``: C-contiguous, the element type by
its buffer format in native byte order, writable when written, the same exceptions), size
arguments read as ``PyArg_ParseTuple`` reads them (``_int``), and the element-type names,
numpy dtypes and integer bounds those checks use.
"""

from __future__ import annotations

import operator as _operator
import sys as _sys
from typing import Any as _Any

import numpy as np
import numpy.typing as _npt

_U8, _U32, _I64, _F64 = "uint8", "uint32", "int64", "float64"
_DTYPES = {_U8: np.uint8, _U32: np.uint32, _I64: np.int64, _F64: np.float64}
_NATIVE = "<" if _sys.byteorder == "little" else ">"
_SSIZE = (-(2**63), 2**63 - 1)  # PyArg 'n' and 'L': a C Py_ssize_t / long long (64-bit builds)
_CINT = (-(2**31), 2**31 - 1)  # PyArg 'i'


def _format_is(fmt: str | None, itemsize: int, elem: str) -> bool:
    """The C file's ``format_is``: one element of ``elem`` in native byte order."""
    f = fmt if fmt is not None else "B"
    if f[:1] in ("@", "=", _NATIVE):
        f = f[1:]
    if len(f) != 1:
        return False
    if elem == _U8:
        return f == "B" and itemsize == 1
    if elem == _U32:
        return f in ("I", "L") and itemsize == 4
    if elem == _I64:
        return f in ("q", "l") and itemsize == 8
    return f == "d" and itemsize == 8


def _take(obj: object, elem: str, writable: bool, name: str) -> _npt.NDArray[_Any]:
    """The C file's ``take``: ``obj``'s buffer, C-contiguous, of element type ``elem``
    (writable if asked), as a flat numpy view; the same exceptions as
    ``PyObject_GetBuffer(PyBUF_C_CONTIGUOUS | PyBUF_FORMAT [| PyBUF_WRITABLE])`` gives the C
    code (numpy's own ValueErrors pass through; a BufferError becomes ValueError)."""
    if isinstance(obj, np.ndarray):  # numpy's getbuffer: contiguity first, then writability
        if not obj.flags.c_contiguous:
            raise ValueError("ndarray is not C-contiguous")
        if writable and not obj.flags.writeable:
            raise ValueError("buffer source array is read-only")
    try:
        view = memoryview(obj)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"a bytes-like object is required, not '{type(obj).__name__}'") from None
    if not view.c_contiguous or (writable and view.readonly):
        raise ValueError(f"{name}: not a contiguous{' writable' if writable else ''} buffer")
    if not _format_is(view.format, view.itemsize, elem):
        raise ValueError(f"{name}: expected {elem} elements, got format '{view.format}' of {view.itemsize} bytes")
    return np.frombuffer(view, dtype=_DTYPES[elem])


def _int(value: object, bounds: tuple[int, int]) -> int:
    """A size argument as PyArg_ParseTuple reads it, its OverflowError made ValueError."""
    v = _operator.index(value)  # type: ignore[arg-type]
    if not bounds[0] <= v <= bounds[1]:
        raise ValueError("a size argument is out of range")
    return v
