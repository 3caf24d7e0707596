/* The two system calls of every request, made without glibc's wrappers. read(2) and
 * sendmsg(2) are pthread cancellation points, so in a process with threads (the loop
 * threads and libuv's pool) glibc 2.36's wrappers switch asynchronous cancellation on
 * and off around each call. sluice never cancels a thread, and that switching cost more
 * than the rest of the call's user-space path (bench/RESULTS.md, instructions per
 * request). Same arguments, result and errno as the wrappers; what wraps libc calls
 * (LD_PRELOAD shims, MSan's and TSan's interceptors) does not see these two. */
#ifndef SLUICE_SOCKIO_H
#define SLUICE_SOCKIO_H

#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

static inline ssize_t sl_sock_read(int fd, void *buf, size_t len)
{
    return (ssize_t)syscall(SYS_read, fd, buf, len);
}

static inline ssize_t sl_sock_sendmsg(int fd, const struct msghdr *msg, int flags)
{
    return (ssize_t)syscall(SYS_sendmsg, fd, msg, flags);
}

#endif
