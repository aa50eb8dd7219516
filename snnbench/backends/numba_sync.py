"""A barrier for the threads of one numba parallel region (docs/full-scale.md, "The parallel step").

numba starts a parallel region (a `prange` loop) in some microseconds, and a thread that waits
passively at its end sleeps and is woken by the kernel: 10-60 us on these VMs. VA COBA's threads
meet every 2 steps, 5,000 times a simulated second, which cost more than the steps themselves.
So the whole simulation is one region, one iteration per thread, and the threads meet at this
barrier: a shared counter (an atomic add), then a wait on a generation number, spinning briefly
and then yielding the core at each check (`sched_yield`), so that on a machine shared with
other jobs a waiting thread hands the core to whoever needs it rather than burning it.

numba has no atomic operations on the CPU: `atomic_add` and `atomic_load` are LLVM's
`atomicrmw add` (sequentially consistent) and `load atomic` (acquire) on an int64 array element.
"""

from __future__ import annotations

import ctypes
import ctypes.util

from llvmlite import binding as llvm
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

# Checks of the generation before a thread starts yielding its core: about a microsecond.
SPINS = 2000
# The barrier's int64 words: arrivals, generation, and a flag the leader sets to stop the loop.
ARRIVED, GENERATION, STOP = 0, 1, 2
N_WORDS = 3

# The JIT resolves `sched_yield` by name; register libc's, so that cached kernels find it too.
_libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
llvm.add_symbol("sched_yield", ctypes.cast(_libc.sched_yield, ctypes.c_void_p).value)


def _element_pointer(context, builder, array_type, array, index):
    view = context.make_array(array_type)(context, builder, array)
    return cgutils.get_item_pointer(context, builder, array_type, view, [index])


@intrinsic
def atomic_add(typingctx, array, index, value):
    """array[index] += value, atomically; the value before."""
    if not (isinstance(array, types.Array) and array.dtype == types.int64 and array.ndim == 1):
        return None
    sig = types.int64(array, types.intp, types.int64)

    def codegen(context, builder, signature, args):
        pointer = _element_pointer(context, builder, signature.args[0], args[0], args[1])
        return builder.atomic_rmw("add", pointer, args[2], "seq_cst")

    return sig, codegen


@intrinsic
def atomic_load(typingctx, array, index):
    """array[index], read atomically (acquire: later reads see what was written before it changed)."""
    if not (isinstance(array, types.Array) and array.dtype == types.int64 and array.ndim == 1):
        return None
    sig = types.int64(array, types.intp)

    def codegen(context, builder, signature, args):
        pointer = _element_pointer(context, builder, signature.args[0], args[0], args[1])
        return builder.load_atomic(pointer, "acquire", 8)

    return sig, codegen


@intrinsic
def sched_yield(typingctx):
    """POSIX sched_yield(): give the core to another runnable thread, if any."""
    sig = types.int32()

    def codegen(context, builder, signature, args):
        function = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.IntType(32), []), "sched_yield")
        return builder.call(function, [])

    return sig, codegen


@njit(cache=True, nogil=True)
def barrier(sync, n_threads):
    """Wait until all n_threads threads have arrived; the last to arrive returns True (the leader)."""
    generation = atomic_load(sync, GENERATION)
    if atomic_add(sync, ARRIVED, 1) == n_threads - 1:
        atomic_add(sync, ARRIVED, -n_threads)  # reset before releasing: no one arrives before that
        atomic_add(sync, GENERATION, 1)
        return True
    checks = 0
    while atomic_load(sync, GENERATION) == generation:
        checks += 1
        if checks >= SPINS:
            sched_yield()
    return False
