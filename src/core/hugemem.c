/* hugemem.c - see hugemem.h. */
#include "config.h"

#include "core/hugemem.h"

#include <stdlib.h>
#include <sys/mman.h>

#define HUGE_PAGE (2u << 20)

void *hugemem_alloc(size_t n, size_t *cap)
{
	if (n < HUGE_PAGE) {
		void *p = malloc(n ? n : 1);
		if (p && cap)
			*cap = n;
		return p;
	}
	if (n > (size_t)-1 - HUGE_PAGE)
		return NULL;
	size_t len = (n + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
	void *p = NULL;
	if (posix_memalign(&p, HUGE_PAGE, len) != 0)
		return NULL;
#ifdef MADV_HUGEPAGE
	madvise(p, len, MADV_HUGEPAGE); /* advisory: errors ignored */
#endif
	if (cap)
		*cap = len;
	return p;
}
