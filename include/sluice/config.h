/* Server configuration: filled once by the command line parser, then shared read-only
 * by every event-loop thread. */
#ifndef SLUICE_CONFIG_H
#define SLUICE_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

#define SL_DEFAULT_PORT 8080
#define SL_DEFAULT_BIND "127.0.0.1"
#define SL_DEFAULT_HEAD_TIMEOUT 30
#define SL_DEFAULT_IDLE_TIMEOUT 15
#define SL_DEFAULT_SEND_TIMEOUT 60
#define SL_DEFAULT_LISTING_MAX_ENTRIES 100000
#define SL_DEFAULT_TAR_MAX_ENTRIES 100000
#define SL_SHUTDOWN_GRACE_MS 5000
#define SL_LINGER_MS 2000 /* how long a closing connection drains the client's input */
/* Room for the fields -H and --cors add to every head: with it, the longest head (a
 * Location of SL_URL_MAX) and an error head with its page still fit in a plan's buffer. */
#define SL_EXTRA_HEADERS_MAX 2048

struct sl_mime_table;

struct sl_config {
    const char *root;       /* as given on the command line */
    int root_fd;            /* the served directory, opened once at start-up */
    const char *bind;       /* address literal or host name */
    int port;               /* 0: the kernel picks one */
    bool listen_given;      /* --port or --bind was given (moot under socket activation) */
    bool quiet;             /* no access log */
    const char *log_path;   /* "-" for stdout */
    int log_fd;             /* -1 when quiet */
    bool log_json;          /* --log-format json: JSON lines, not Combined Log Format */
    unsigned threads;       /* event loops, one per thread */
    long max_age;           /* < 0: Cache-Control: no-cache */
    bool listing;           /* directory listings on */
    unsigned listing_max_entries; /* a directory with more gets 403, not a listing */
    bool tar;               /* a listed directory's tree as a .tar with ?tar */
    unsigned tar_max_entries; /* a tree with more entries gets 403, not an archive */
    bool dotfiles;          /* serve and list names starting with '.' */
    bool clean_urls;        /* "/a/b" falls back to "a/b.html" */
    bool follow_symlinks;   /* serve symlinks that lead outside the root (a risk) */
    bool live;              /* watch the tree: reload pages, invalidate caches at once */
    const char *error_page; /* root-relative page for 404s, when it exists */
    const char *spa;        /* root-relative fallback for missing pages, or NULL */
    unsigned head_timeout_s;
    unsigned idle_timeout_s;
    unsigned send_timeout_s;
    unsigned max_conns; /* per process; 0 = derive from RLIMIT_NOFILE (fdbudget.h) */
    unsigned cache_fds;      /* descriptors each loop's file cache may keep (0: 64) */
    unsigned files_per_loop; /* body files a loop's responses may hold open (0: no bound) */
    int fd_ceiling;     /* an accepted descriptor this high is shed: the rest are kept
                           for opening files (0 = no limit known) */
    const char *user;   /* drop to this user after binding (when root) */
    bool chroot;        /* chroot into the root after binding (needs user) */
    unsigned rate;      /* --rate: body bytes per second per connection; 0: unpaced */
    bool cors;          /* --cors: CORS fields on every response, preflights answered */
    /* The fields -H and --cors add to every response, rendered once ("Name: value\r\n"
     * each), so a head copies them in one piece. */
    size_t extra_headers_len;
    char extra_headers[SL_EXTRA_HEADERS_MAX];

    /* The root as realpath(3) gave it at start-up, for messages; NULL if unresolved. */
    const char *root_real;
    /* mime.types as read at start-up, for sl_mime_lookup; NULL: built-in types only. */
    const struct sl_mime_table *mime;
};

/* Fills cfg from argv. Returns 0 to run, 1 when --help or --version was printed (exit
 * 0), -1 after printing one line about a bad argument to err (exit 1). */
int sl_options_parse(int argc, char **argv, struct sl_config *cfg, FILE *out, FILE *err);

/* Adds a field given as "Name: value" (-H) to cfg->extra_headers. Returns 0, or -1 with
 * one line in err: a name that is not a token, a value with a control character, a
 * field that frames the message (Content-Length, Transfer-Encoding, Connection,
 * Content-Range), or no room left. */
int sl_config_add_header(struct sl_config *cfg, const char *field, FILE *err);

/* --cors: the fields every response then carries (sl_config_add_header's buffer). */
int sl_config_enable_cors(struct sl_config *cfg, FILE *err);

#endif
