/* Descriptor accounting (see fdbudget.h): arithmetic only. */
#include "sluice/fdbudget.h"

#include <limits.h>

/* The cap on connections the arithmetic will give, as --max-conns allows. */
#define CONNS_MAX 10000000ul

static unsigned long cache_fds_for(unsigned long limit, unsigned threads)
{
    unsigned long n = limit / 16 / threads;
    return n < SL_FDS_CACHE_MAX ? n : SL_FDS_CACHE_MAX;
}

/* Descriptors left for sockets and body files once the process and its loops are
 * counted. */
static unsigned long room_for(unsigned long limit, unsigned inherited, unsigned threads)
{
    unsigned long fixed =
        (unsigned long)inherited + SL_FDS_PROCESS +
        (unsigned long)threads * (SL_FDS_PER_LOOP + cache_fds_for(limit, threads));
    return limit > fixed ? limit - fixed : 0;
}

int sl_fd_budget(unsigned long limit, unsigned inherited, unsigned threads, unsigned wanted,
                 struct sl_fd_budget *out)
{
    if (threads == 0)
        threads = 1;
    if (limit > INT_MAX)
        limit = INT_MAX;
    unsigned long room = room_for(limit, inherited, threads);
    unsigned long files_min = (unsigned long)threads * SL_FDS_FILES_MIN;
    if (room < files_min + threads)
        return -1;
    unsigned long conns = wanted > 0 ? wanted : room / 2;
    if (conns > room - files_min)
        conns = room - files_min;
    if (conns < threads) /* every loop takes one at least */
        conns = threads;
    if (conns > CONNS_MAX)
        conns = CONNS_MAX;
    out->max_conns = (unsigned)conns;
    out->files_per_loop = (unsigned)((room - conns) / threads);
    out->cache_fds = (unsigned)cache_fds_for(limit, threads);
    out->ceiling =
        (int)(limit - (unsigned long)threads *
                          (SL_FDS_ROUTING + SL_DIRCACHE_READS * SL_DIRCACHE_FDS_PER_READ));
    return 0;
}

unsigned sl_fd_budget_threads(unsigned long limit, unsigned inherited, unsigned threads,
                              unsigned conns_per_loop)
{
    for (unsigned t = threads; t > 0; t--) {
        if (room_for(limit, inherited, t) / 2 >= (unsigned long)t * conns_per_loop)
            return t;
    }
    return 0;
}
