/* hugemem.h - large allocations on 2 MiB pages where the kernel gives them
 * on request (transparent huge pages in "madvise" mode): a random probe
 * costs one cache miss instead of a TLB walk too, and a fresh buffer of tens
 * of MB is faulted in a few dozen times instead of thousands. Below 2 MiB it
 * is plain malloc. The memory is free()d as usual. */
#pragma once

#include <stddef.h>

/* n bytes (rounded up to 2 MiB when large; *cap, if not NULL, gets the
 * usable size), or NULL. */
void *hugemem_alloc(size_t n, size_t *cap);
