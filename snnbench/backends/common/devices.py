"""Whether an NVIDIA GPU can be used here, asked of the driver itself (no CUDA toolkit needed)."""

from __future__ import annotations


def gpu_status() -> tuple[bool, str]:
    """(True, device count) or (False, why no NVIDIA GPU can be used), through the driver API."""
    import ctypes

    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False, "no NVIDIA driver (libcuda.so.1 cannot be loaded): no NVIDIA GPU here"
    rc = cuda.cuInit(0)
    if rc != 0:
        return False, f"the NVIDIA driver does not initialise (cuInit error {rc}): no usable NVIDIA GPU"
    count = ctypes.c_int(0)
    rc = cuda.cuDeviceGetCount(ctypes.byref(count))
    if rc != 0 or count.value == 0:
        return False, "no NVIDIA GPU (cuDeviceGetCount = 0)"
    return True, f"{count.value} GPU(s)"
