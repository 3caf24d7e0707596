/* Residency probes of a file being sent (a body file, a tar member): mincore(2) over a
 * mapping, or for a small file a read that must not wait, and the pool side that reads
 * a window in. mincore reports a page only when it is up to date, so a page
 * whose read is still in flight counts as missing (cachestat(2) would count it, and
 * sendfile would then wait for it on the loop). */
#include "sluice/resident.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#define PAGE_MIN 4096u

int sl_resident_probe(struct sl_resident *r, int fd, uint64_t size, uint64_t off, uint64_t len)
{
    if (!r->map) {
        if (size == 0 || size > SIZE_MAX)
            return -EINVAL;
        void *map = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
        if (map == MAP_FAILED)
            return -errno;
        r->map = map;
        r->len = (size_t)size;
    }
    if (off >= r->len)
        return -EINVAL;
    if (len > r->len - off)
        len = r->len - off;
    static long page;
    if (page == 0)
        page = sysconf(_SC_PAGESIZE);
    uint64_t first = off / (uint64_t)page * (uint64_t)page;
    size_t span = (size_t)(off + len - first);
    unsigned char vec[SL_RESIDENT_WINDOW / PAGE_MIN + 2];
    size_t pages = (span + (size_t)page - 1) / (size_t)page;
    if (pages > sizeof(vec))
        return -EINVAL;
    if (mincore((char *)r->map + first, span, vec) != 0)
        return -errno;
    for (size_t i = 0; i < pages; i++) {
        if (!(vec[i] & 1))
            return 0;
    }
    return 1;
}

int sl_resident_peek(int fd, uint64_t off, size_t len)
{
    char scratch[SL_RESIDENT_PEEK_MAX];
    if (len > sizeof(scratch))
        return -EINVAL;
    struct iovec v = {scratch, len};
    ssize_t n;
    do
        n = preadv2(fd, &v, 1, (off_t)off, RWF_NOWAIT);
    while (n < 0 && errno == EINTR);
    if (n == (ssize_t)len)
        return 1;
    /* A short read: part of it is not in (or the file shrank, which sendfile will tell). */
    return n >= 0 || errno == EAGAIN ? 0 : -errno;
}

void sl_resident_release(struct sl_resident *r)
{
    if (r->map)
        munmap(r->map, r->len);
    *r = (struct sl_resident){0};
}

void sl_resident_fetch(int fd, uint64_t off, uint64_t len, uint64_t ahead)
{
    /* One large asynchronous read for this window and the next, then a plain read of
     * this one, which returns when its pages are in (and copies them once into a small
     * buffer: simpler and surer than waiting on readahead(2), whose completion is not
     * promised). */
    posix_fadvise(fd, (off_t)off, (off_t)(len + ahead), POSIX_FADV_WILLNEED);
    char buf[64 << 10];
    uint64_t end = off + len;
    while (off < end) {
        size_t want = end - off < sizeof(buf) ? (size_t)(end - off) : sizeof(buf);
        ssize_t n = pread(fd, buf, want, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* an error or a shrunken file: sendfile will tell */
        off += (uint64_t)n;
    }
}
