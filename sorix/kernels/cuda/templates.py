"""CUDA-only loop templates and the device helpers every kernel gets.

The elementwise kernels reuse the CPU loop templates of
:mod:`sorix.kernels.templates` unchanged: their ``prange`` placeholder is
bound to :func:`grid_range`, which turns each loop into a grid-stride loop.
So the CPU and GPU loops cannot drift apart. This module adds what the CPU
does not need: templates that read operands through strides (broadcast or
non-contiguous views, without copying them first).

Placeholders bound per kernel by :mod:`sorix.kernels.cuda.build`:
``cuda`` (numba.cuda), ``F``/``DA``/``DB`` (the op's compiled scalar
definitions), ``grid_range`` and ``offset_of`` (the helpers below, compiled
as inlined device functions). :func:`block_reduce`, the one tree reduction
of every kernel that reduces within a block, is compiled per combining op
with ``BLOCK`` and ``COMBINE`` bound (the ``block`` binding). ``shape`` and
the ``s*`` strides are tuples of ints (passed by value, no host-to-device
copy), in elements; a stride is 0 along a broadcast dimension.
"""
cuda = F = DA = DB = BLOCK = COMBINE = None  # bound per kernel by the builder


# ---- device helpers (inlined into the kernels) --------------------------------

def grid_range(n):
    """This thread's indices of a grid-stride loop over ``range(n)``."""
    return range(cuda.grid(1), n, cuda.gridsize(1))


def offset_of(i, shape, strides):
    """The offset of C-order element ``i`` of ``shape`` in an array with ``strides``."""
    offset = 0
    for k in range(len(shape) - 1, -1, -1):
        n = shape[k]
        offset += (i % n) * strides[k]
        i //= n
    return offset


def block_reduce(shared, value):
    """Every thread's ``value`` combined with ``COMBINE`` by a tree in ``shared`` (an array
    of ``BLOCK`` entries, a power of two, one per thread); each thread gets the result.
    Called by all the block's threads together; ``shared`` is free again on return."""
    tid = cuda.threadIdx.x
    shared[tid] = value
    cuda.syncthreads()
    step = BLOCK // 2
    while step > 0:
        if tid < step:
            shared[tid] = COMBINE(shared[tid], shared[tid + step])
        cuda.syncthreads()
        step //= 2
    result = shared[0]
    cuda.syncthreads()  # every thread has read the result before shared is written again
    return result


# ---- strided elementwise templates --------------------------------------------

def binary_nd(a, b, out, shape, sa, sb):
    for i in grid_range(out.size):
        out[i] = F(a[offset_of(i, shape, sa)], b[offset_of(i, shape, sb)])


def binary_grad_ab_nd(g, a, b, y, ga, gb, shape, sa, sb):
    for i in grid_range(g.size):
        ai = a[offset_of(i, shape, sa)]
        bi = b[offset_of(i, shape, sb)]
        gi = g[i]
        ga[i] = gi * DA(ai, bi, y[i])
        gb[i] = gi * DB(ai, bi, y[i])


def binary_grad_a_nd(g, a, b, y, ga, gb, shape, sa, sb):
    for i in grid_range(g.size):
        ga[i] = g[i] * DA(a[offset_of(i, shape, sa)], b[offset_of(i, shape, sb)], y[i])


def binary_grad_b_nd(g, a, b, y, ga, gb, shape, sa, sb):
    for i in grid_range(g.size):
        gb[i] = g[i] * DB(a[offset_of(i, shape, sa)], b[offset_of(i, shape, sb)], y[i])
