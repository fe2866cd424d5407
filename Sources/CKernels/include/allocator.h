#ifndef OPG_ALLOCATOR_H
#define OPG_ALLOCATOR_H

/// Keeps freed memory in the process for reuse (glibc: blocks up to 32 MiB come from the
/// heap instead of fresh mmap'd pages, and up to 128 MiB of free heap is kept rather than
/// returned). A model run allocates its tensors anew each time; without this every
/// tensor above 128 KiB was new zero pages from the kernel, a page fault per 4 KiB on
/// every run. Idempotent; a no-op on other C libraries.
void opg_keep_freed_memory(void);
#endif
