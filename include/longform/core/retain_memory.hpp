// SPDX-License-Identifier: MIT
/// @file
/// `retain_freed_memory`: keep the host memory LibTorch frees inside the process, for its next
/// allocation, instead of giving it back to the kernel.
///
/// Why: glibc's malloc serves large blocks (a video model's activations) with `mmap` and returns
/// a freed top of the heap with `brk`, so each forward pass gets fresh pages that the kernel maps
/// and zeroes one page fault at a time: for X3D-S at 13×160² on one thread, about 20,000 faults
/// per forward pass and some 30 % of its time (345–406 ms; 254–272 ms with this). This turns off
/// `mmap` for allocations and trimming (below 2 GiB free at the top), so freed blocks are reused.
/// Process-wide and glibc-only: call it once at start-up, as the `longform` command and the
/// benchmarks do; a process then keeps its peak, as LibTorch's CUDA caching allocator does.
///
///     int main() { longform::retain_freed_memory(); ... }
#pragma once

#include <climits>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace longform {

/// Sets glibc's malloc to keep freed memory (see the file comment). Returns false where that is
/// not possible (another C library) or glibc refused a setting.
inline bool retain_freed_memory() noexcept {
#if defined(__GLIBC__)
  return mallopt(M_MMAP_MAX, 0) == 1 && mallopt(M_TRIM_THRESHOLD, INT_MAX) == 1 && mallopt(M_TOP_PAD, 64 << 20) == 1;
#else
  return false;
#endif
}

}  // namespace longform
