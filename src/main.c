/* sluice: command line to running server. Start-up errors end here with one line on
 * stderr and exit status 1. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <ifaddrs.h>
#include <limits.h>
#include <malloc.h>
#include <net/if.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include "sluice/config.h"
#include "sluice/fdbudget.h"
#include "sluice/listen.h"
#include "sluice/mime.h"
#include "sluice/server.h"

#define MAX_THREADS 256

static int die(const char *fmt, const char *arg, const char *detail)
{
    fprintf(stderr, "sluice: ");
    fprintf(stderr, fmt, arg, detail);
    fputc('\n', stderr);
    return 1;
}

static int open_root(struct sl_config *cfg)
{
    int fd = open(cfg->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
            return die("root directory '%s' does not exist%s", cfg->root, "");
        if (e == ENOTDIR)
            return die("root '%s' is not a directory%s", cfg->root, "");
        if (e == EACCES)
            return die("root directory '%s' is not readable (permission denied)%s", cfg->root, "");
        return die("cannot open root directory '%s': %s", cfg->root, strerror(e));
    }
    cfg->root_fd = fd;
    return 0;
}

static int open_log(struct sl_config *cfg)
{
    if (cfg->quiet)
        return 0;
    if (strcmp(cfg->log_path, "-") == 0) {
        cfg->log_fd = STDOUT_FILENO;
        return 0;
    }
    cfg->log_fd = open(cfg->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (cfg->log_fd < 0)
        return die("cannot open log file '%s': %s", cfg->log_path, strerror(errno));
    return 0;
}

/* Descriptors open now: inherited ones (stdio, whatever the parent passed) and the root
 * and log just opened. /proc/self/fd lists them; without /proc, the usual five. */
static unsigned count_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 5;
    unsigned n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n > 0 ? n - 1 : 0; /* not the directory stream's own */
}

/* Raises the soft descriptor limit as far as the hard limit allows, then derives from it
 * (fdbudget.c) how many connections and body files fit beside everything else the
 * process holds, and how many loops, when the thread count was not given. Returns 0, or
 * 1 after one line on stderr. */
static int budget_descriptors(struct sl_config *cfg, bool threads_given)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        if (cfg->max_conns == 0)
            cfg->max_conns = 1024; /* no limit known: no accounting */
        return 0;
    }
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    unsigned long limit = rl.rlim_cur > INT_MAX ? INT_MAX : (unsigned long)rl.rlim_cur;
    unsigned inherited = count_open_fds();
    if (!threads_given) {
        /* Fewer loops rather than loops with no room: at least 4 connections each. */
        unsigned fit = sl_fd_budget_threads(limit, inherited, cfg->threads, 4);
        cfg->threads = fit > 0 ? fit : 1;
    }
    struct sl_fd_budget b;
    if (sl_fd_budget(limit, inherited, cfg->threads, cfg->max_conns, &b) != 0) {
        fprintf(stderr,
                "sluice: %u thread%s need more than the %lu descriptors the limit allows "
                "(ulimit -n); use fewer --threads or raise the limit\n",
                cfg->threads, cfg->threads == 1 ? "" : "s", limit);
        return 1;
    }
    if (cfg->max_conns > b.max_conns)
        fprintf(stderr,
                "sluice: warning: --max-conns %u lowered to %u: the descriptor limit (%lu) "
                "leaves no room for more\n",
                cfg->max_conns, b.max_conns, limit);
    cfg->max_conns = b.max_conns;
    cfg->files_per_loop = b.files_per_loop;
    cfg->cache_fds = b.cache_fds;
    cfg->fd_ceiling = b.ceiling;
    return 0;
}

static void print_url(const char *host, int family, int port)
{
    if (family == AF_INET6)
        printf("  http://[%s]:%d/\n", host, port);
    else
        printf("  http://%s:%d/\n", host, port);
}

/* For a wildcard bind, every local address a browser could use. */
static void print_interface_urls(int family, int port)
{
    struct ifaddrs *list;
    if (getifaddrs(&list) != 0)
        return;
    for (struct ifaddrs *i = list; i; i = i->ifa_next) {
        if (!i->ifa_addr || !(i->ifa_flags & IFF_UP))
            continue;
        int f = i->ifa_addr->sa_family;
        if (f != AF_INET && !(f == AF_INET6 && family == AF_INET6))
            continue;
        char host[INET6_ADDRSTRLEN];
        const void *a = f == AF_INET
                            ? (const void *)&((struct sockaddr_in *)i->ifa_addr)->sin_addr
                            : (const void *)&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
        if (f == AF_INET6 && IN6_IS_ADDR_LINKLOCAL((const struct in6_addr *)a))
            continue; /* needs a zone index a browser will not take */
        inet_ntop(f, a, host, sizeof(host));
        print_url(host, f, port);
    }
    freeifaddrs(list);
}

struct banner {
    const struct sl_config *cfg;
    int family;
    int port;
    const int *inherited; /* sockets from a service manager, or NULL */
    unsigned ninherited;
};

/* A socket from a service manager: the address it is bound to, as it is. */
static void print_socket_url(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char host[INET6_ADDRSTRLEN];
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return;
    bool v6 = ss.ss_family == AF_INET6;
    const void *addr = v6 ? (const void *)&((struct sockaddr_in6 *)&ss)->sin6_addr
                          : (const void *)&((struct sockaddr_in *)&ss)->sin_addr;
    int port =
        ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
    if (inet_ntop(ss.ss_family, addr, host, sizeof(host)))
        print_url(host, ss.ss_family, port);
}

/* Printed once the server is ready: tests and scripts may treat the banner as "up",
 * with every descriptor the loops need already open and signals handled. */
static void announce(void *arg)
{
    const struct banner *banner = arg;
    const struct sl_config *cfg = banner->cfg;
    int family = banner->family, port = banner->port;
    unsigned threads = cfg->threads;
    printf("sluice: serving %s on\n", cfg->root_real ? cfg->root_real : cfg->root);
    const char *b = cfg->bind;
    if (banner->ninherited > 0) {
        for (unsigned i = 0; i < banner->ninherited; i++)
            print_socket_url(banner->inherited[i]);
    } else if (strcmp(b, "0.0.0.0") == 0 || strcmp(b, "::") == 0 || strcmp(b, "[::]") == 0) {
        print_interface_urls(family, port);
    } else {
        char host[256];
        size_t n = strlen(b);
        if (n >= 2 && b[0] == '[' && b[n - 1] == ']')
            snprintf(host, sizeof(host), "%.*s", (int)(n - 2), b + 1);
        else
            snprintf(host, sizeof(host), "%s", b);
        print_url(host, strchr(host, ':') ? AF_INET6 : AF_INET, port);
    }
    printf("(%u thread%s%s; Ctrl-C to stop)\n", threads, threads == 1 ? "" : "s",
           cfg->live ? ", live reload" : "");
    fflush(stdout);
}

/* Started as root: drop to cfg->user after binding, and make sure it stuck. */
static int drop_privileges(const struct sl_config *cfg)
{
    if (geteuid() != 0) {
        if (cfg->user)
            return die("--user %s needs sluice to be started as root%s", cfg->user, "");
        return 0;
    }
    if (!cfg->user) {
        fprintf(stderr, "sluice: warning: running as root; consider --user NAME\n");
        return 0;
    }
    errno = 0;
    struct passwd *pw = getpwnam(cfg->user);
    if (!pw)
        return die("unknown user '%s'%s", cfg->user, errno ? strerror(errno) : "");
    if (cfg->chroot) {
        if (fchdir(cfg->root_fd) != 0 || chroot(".") != 0)
            return die("cannot chroot into '%s': %s", cfg->root, strerror(errno));
    }
    if (setgroups(1, &pw->pw_gid) != 0)
        return die("setgroups for '%s' failed: %s", cfg->user, strerror(errno));
    if (setgid(pw->pw_gid) != 0)
        return die("setgid for '%s' failed: %s", cfg->user, strerror(errno));
    if (setuid(pw->pw_uid) != 0)
        return die("setuid for '%s' failed: %s", cfg->user, strerror(errno));
    if (pw->pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
        return die("dropped to '%s' but could become root again%s", cfg->user, "");
    return 0;
}

/* The long tail of media types; the built-in table serves alone without the file. */
static void load_mime_types(struct sl_mime_table *table)
{
    int rc = sl_mime_load(table, SL_MIME_TYPES_PATH);
    if (rc != 0 && rc != -ENOENT)
        fprintf(stderr, "sluice: warning: cannot read %s (%s); using built-in media types only\n",
                SL_MIME_TYPES_PATH, strerror(-rc));
}

/* The listening descriptors, `listeners` per loop: the sockets a service manager passed
 * (socket activation: shared by every loop), or our own SO_REUSEPORT group. */
/* --rate: set on the listening sockets, inherited by every accepted one. */
static int pace_listeners(const struct sl_config *cfg, const int *fds, unsigned count)
{
    char err[256];
    for (unsigned i = 0; i < count; i++) {
        if (sl_listen_pace(fds[i], cfg->rate, err, sizeof(err)) != 0)
            return die("%s%s", err, "");
    }
    return 0;
}

static int open_listeners(const struct sl_config *cfg, struct banner *banner, int *fds,
                          unsigned *listeners)
{
    char err[256];
    if (banner->ninherited > 0) {
        if (cfg->listen_given)
            fprintf(stderr,
                    "sluice: note: serving the socket%s the service manager passed; --port and "
                    "--bind do not apply\n",
                    banner->ninherited == 1 ? "" : "s");
        *listeners = banner->ninherited;
        if (sl_listen_share(banner->inherited, banner->ninherited, cfg->threads, fds, err,
                            sizeof(err)) != 0)
            return die("%s%s", err, "");
        return pace_listeners(cfg, fds, cfg->threads * *listeners);
    }
    *listeners = 1;
    if (sl_listen(cfg->bind, cfg->port, cfg->threads, fds, &banner->family, &banner->port, err,
                  sizeof(err)) != 0)
        return die("%s%s", err, "");
    return pace_listeners(cfg, fds, cfg->threads);
}

/* From opening the root to the end of serving. */
static int run(struct sl_config *cfg)
{
    int inherited[SL_LISTENERS_MAX];
    struct banner banner = {.cfg = cfg, .family = AF_INET, .inherited = inherited};
    char err[256];
    if (sl_listen_inherited(inherited, SL_LISTENERS_MAX, &banner.ninherited, err, sizeof(err)) != 0)
        return die("%s%s", err, "");
    if (open_root(cfg) != 0 || open_log(cfg) != 0)
        return 1;
    bool threads_given = cfg->threads > 0;
    if (!threads_given) {
        unsigned n = uv_available_parallelism();
        cfg->threads = n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : n;
    }
    if (budget_descriptors(cfg, threads_given) != 0)
        return 1;
    static int fds[MAX_THREADS * SL_LISTENERS_MAX];
    unsigned listeners = 1;
    if (open_listeners(cfg, &banner, fds, &listeners) != 0)
        return 1;
    if (drop_privileges(cfg) != 0)
        return 1;
    int rc = sl_server_run(cfg, fds, cfg->threads, listeners, announce, &banner, err, sizeof(err));
    if (rc != 0)
        return die("%s%s", err, "");
    if (cfg->log_fd > STDOUT_FILENO)
        close(cfg->log_fd);
    close(cfg->root_fd);
    return 0;
}

/* glibc raises its mmap threshold to the size of every large block it frees (up to 32 MiB),
 * so once a large listing or tar layout built in a pool thread has been freed, the next
 * ones come from that thread's heap arena and stay in the process: eight ?tar of 50,000
 * files in a row left RSS 21.8 MiB above start, growing a MiB a request, against a steady
 * 5.1 MiB (the layout itself) with the threshold fixed at its default of 128 KiB, which
 * setting it does (mallopt(3)). Large blocks are then always mmap'ed and given back when
 * freed. */
static void fix_mmap_threshold(void)
{
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
}

int main(int argc, char **argv)
{
    fix_mmap_threshold();
    struct sl_config cfg;
    int rc = sl_options_parse(argc, argv, &cfg, stdout, stderr);
    if (rc != 0)
        return rc > 0 ? 0 : 1;
    /* Resolved before any chroot, for a banner that says which directory is served
     * whatever the working directory was ("serving ." says little). */
    char real[PATH_MAX];
    cfg.root_real = realpath(cfg.root, real);
    /* Read once before any thread starts; the loops only read it, through cfg. */
    struct sl_mime_table mime = {0};
    load_mime_types(&mime);
    cfg.mime = &mime;
    rc = run(&cfg);
    sl_mime_free(&mime);
    return rc;
}
