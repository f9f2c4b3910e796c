"""Resident memory for `/metrics` where prometheus_client's process collector has nothing to read.

That collector reads /proc, so on Windows (a supported platform) it serves nothing, and the soak criterion "resident
memory flat, under 300 MB" could not be watched there. This collector serves `process_resident_memory_bytes` from
the Win32 API through ctypes (no psutil for one number). Open file descriptors are a POSIX notion; Windows counts
handles, which are not the same thing, so `process_open_fds` stays Linux-only rather than serve a misleading figure.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["MemoryCollector", "resident_bytes"]


if sys.platform == "win32":  # one definition per platform: mypy checks each on its own platform

    def resident_bytes() -> int | None:
        """The process's working set in bytes; None when the call fails."""
        import ctypes
        from ctypes import wintypes

        class _Counters(ctypes.Structure):  # PROCESS_MEMORY_COUNTERS
            _fields_ = [
                ("cb", wintypes.DWORD),
                ("PageFaultCount", wintypes.DWORD),
                ("PeakWorkingSetSize", ctypes.c_size_t),
                ("WorkingSetSize", ctypes.c_size_t),
                ("QuotaPeakPagedPoolUsage", ctypes.c_size_t),
                ("QuotaPagedPoolUsage", ctypes.c_size_t),
                ("QuotaPeakNonPagedPoolUsage", ctypes.c_size_t),
                ("QuotaNonPagedPoolUsage", ctypes.c_size_t),
                ("PagefileUsage", ctypes.c_size_t),
                ("PeakPagefileUsage", ctypes.c_size_t),
            ]

        kernel32 = ctypes.WinDLL("kernel32")  # a private handle: argtypes set here touch no one else's
        kernel32.GetCurrentProcess.restype = wintypes.HANDLE
        query = kernel32.K32GetProcessMemoryInfo  # psapi's function, exported by kernel32 since Windows 7
        query.argtypes = [wintypes.HANDLE, ctypes.POINTER(_Counters), wintypes.DWORD]
        query.restype = wintypes.BOOL
        counters = _Counters()
        counters.cb = ctypes.sizeof(counters)
        if not query(kernel32.GetCurrentProcess(), ctypes.byref(counters), counters.cb):
            return None
        return int(counters.WorkingSetSize)

else:

    def resident_bytes() -> int | None:
        """Nothing off Windows: Linux has prometheus_client's collector, and other systems are not supported."""
        return None


class MemoryCollector(Collector):
    """`process_resident_memory_bytes` from `read` (the Win32 reading unless a test passes its own)."""

    def __init__(self, read: Callable[[], int | None] = resident_bytes) -> None:
        self._read = read

    def collect(self) -> Iterable[Metric]:
        return self._families()

    def _families(self) -> Iterator[Metric]:
        value = self._read()
        if value is not None:
            yield GaugeMetricFamily("process_resident_memory_bytes", "Resident memory size in bytes.", value=value)
