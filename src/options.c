/* Command line: defaults, parsing, --help and --version. Validation of what can be
 * checked without touching the system (numbers, ranges, combinations); opening the
 * root and binding happen in main. */
#include "sluice/config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "0.0.0"
#endif

enum {
    OPT_QUIET = 256,
    OPT_LOG,
    OPT_VERSION,
    OPT_THREADS,
    OPT_MAX_AGE,
    OPT_NO_LISTING,
    OPT_DOTFILES,
    OPT_HEAD_TIMEOUT,
    OPT_IDLE_TIMEOUT,
    OPT_SEND_TIMEOUT,
    OPT_MAX_CONNS,
    OPT_USER,
    OPT_CHROOT,
    OPT_ERROR_PAGE,
    OPT_NO_CLEAN_URLS,
    OPT_SPA,
    OPT_FOLLOW_SYMLINKS,
    OPT_LISTING_MAX_ENTRIES,
    OPT_NO_TAR,
    OPT_TAR_MAX_ENTRIES,
};

static const struct option long_options[] = {
    {"port", required_argument, NULL, 'p'},
    {"bind", required_argument, NULL, 'b'},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"log", required_argument, NULL, OPT_LOG},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"max-age", required_argument, NULL, OPT_MAX_AGE},
    {"no-listing", no_argument, NULL, OPT_NO_LISTING},
    {"listing-max-entries", required_argument, NULL, OPT_LISTING_MAX_ENTRIES},
    {"no-tar", no_argument, NULL, OPT_NO_TAR},
    {"tar-max-entries", required_argument, NULL, OPT_TAR_MAX_ENTRIES},
    {"dotfiles", no_argument, NULL, OPT_DOTFILES},
    {"head-timeout", required_argument, NULL, OPT_HEAD_TIMEOUT},
    {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
    {"send-timeout", required_argument, NULL, OPT_SEND_TIMEOUT},
    {"max-conns", required_argument, NULL, OPT_MAX_CONNS},
    {"user", required_argument, NULL, OPT_USER},
    {"chroot", no_argument, NULL, OPT_CHROOT},
    {"404", required_argument, NULL, OPT_ERROR_PAGE},
    {"no-clean-urls", no_argument, NULL, OPT_NO_CLEAN_URLS},
    {"spa", optional_argument, NULL, OPT_SPA},
    {"follow-symlinks", no_argument, NULL, OPT_FOLLOW_SYMLINKS},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static void print_help(FILE *out)
{
    fprintf(out,
            "Usage: sluice [OPTIONS] [ROOT]\n"
            "Serve the files under ROOT (default: the current directory) over HTTP/1.1.\n"
            "\n"
            "  -p, --port N          TCP port (default %d; 0 picks a free port and prints it)\n"
            "  -b, --bind ADDR       address to listen on (default %s; :: or 0.0.0.0 for\n"
            "                        the LAN; IPv6 literals work, with or without [ ])\n"
            "      --quiet           no access log\n"
            "      --log FILE        append the access log to FILE (- is stdout, the default)\n"
            "      --threads N       event-loop threads (default: number of CPUs)\n"
            "      --max-age N       Cache-Control: public, max-age=N (default: no-cache,\n"
            "                        browsers revalidate; edits are served within 1 s)\n"
            "      --no-listing      answer 403 for directories without index.html\n"
            "      --listing-max-entries N\n"
            "                        list directories of at most N entries; larger ones\n"
            "                        get 403 (default %d)\n"
            "      --no-tar          do not offer a listed directory as one .tar download\n"
            "                        (DIR/?tar; also off with --no-listing)\n"
            "      --tar-max-entries N\n"
            "                        archive trees of at most N files and directories;\n"
            "                        larger ones get 403 (default %d)\n"
            "      --dotfiles        serve and list names starting with '.' (default: 404,\n"
            "                        except .well-known/)\n"
            "      --404 PATH        the page (under ROOT) sent with a 404 for a missing\n"
            "                        path (default 404.html, when it exists)\n"
            "      --no-clean-urls   do not serve /a/b from a/b.html when /a/b is missing\n"
            "      --spa[=FILE]      single-page app: a missing page (no extension, asked\n"
            "                        for as HTML) gets FILE (default index.html) with 200\n"
            "      --follow-symlinks serve symlinks that lead outside ROOT (a risk: anything\n"
            "                        they reach is served; default: 404)\n"
            "      --head-timeout S  close a client that has not sent a full request head\n"
            "                        within S seconds (default %d)\n"
            "      --idle-timeout S  close a keep-alive connection idle for S seconds\n"
            "                        (default %d)\n"
            "      --send-timeout S  close a response that made no progress for S seconds\n"
            "                        (default %d)\n"
            "      --max-conns N     most simultaneous connections (default: from the\n"
            "                        descriptor limit, which is raised to its hard maximum)\n"
            "      --user NAME       when started as root: drop to NAME after binding\n"
            "      --chroot          with --user: also confine the process to ROOT (a\n"
            "                        rebuilt ROOT is then not re-opened by its path)\n"
            "  -h, --help            show this help and exit\n"
            "      --version         show the version and exit\n"
            "\n"
            "Ctrl-C (SIGINT) or SIGTERM stops accepting and lets responses in flight finish\n"
            "for up to %d seconds; a second Ctrl-C stops at once.\n",
            SL_DEFAULT_PORT, SL_DEFAULT_BIND, SL_DEFAULT_LISTING_MAX_ENTRIES,
            SL_DEFAULT_TAR_MAX_ENTRIES, SL_DEFAULT_HEAD_TIMEOUT, SL_DEFAULT_IDLE_TIMEOUT,
            SL_DEFAULT_SEND_TIMEOUT, SL_SHUTDOWN_GRACE_MS / 1000);
}

/* Parses a whole decimal number in [min, max]; -1 on anything else. */
static int parse_number(const char *s, long min, long max, long *out)
{
    if (*s == '\0' || *s == '-' || *s == '+' || *s == ' ')
        return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int number_option(const char *name, const char *arg, long min, long max, long *out,
                         FILE *err)
{
    if (parse_number(arg, min, max, out) == 0)
        return 0;
    fprintf(err, "sluice: %s needs a whole number from %ld to %ld, not '%s'\n", name, min, max,
            arg);
    return -1;
}

static void set_defaults(struct sl_config *cfg)
{
    *cfg = (struct sl_config){
        .root = ".",
        .root_fd = -1,
        .bind = SL_DEFAULT_BIND,
        .port = SL_DEFAULT_PORT,
        .log_path = "-",
        .log_fd = -1,
        .threads = 0,
        .max_age = -1,
        .listing = true,
        .listing_max_entries = SL_DEFAULT_LISTING_MAX_ENTRIES,
        .tar = true,
        .tar_max_entries = SL_DEFAULT_TAR_MAX_ENTRIES,
        .clean_urls = true,
        .head_timeout_s = SL_DEFAULT_HEAD_TIMEOUT,
        .idle_timeout_s = SL_DEFAULT_IDLE_TIMEOUT,
        .send_timeout_s = SL_DEFAULT_SEND_TIMEOUT,
    };
}

/* The options that take a number, and its limits. */
struct number_spec {
    int opt;
    const char *name;
    long min, max;
};

static const struct number_spec number_specs[] = {
    {'p', "--port", 0, 65535},
    {OPT_THREADS, "--threads", 1, 256},
    {OPT_MAX_AGE, "--max-age", 0, 31536000},
    {OPT_HEAD_TIMEOUT, "--head-timeout", 1, 86400},
    {OPT_IDLE_TIMEOUT, "--idle-timeout", 1, 86400},
    {OPT_SEND_TIMEOUT, "--send-timeout", 1, 86400},
    {OPT_MAX_CONNS, "--max-conns", 1, 10000000},
    {OPT_LISTING_MAX_ENTRIES, "--listing-max-entries", 1, 100000000},
    {OPT_TAR_MAX_ENTRIES, "--tar-max-entries", 1, 100000000},
};

static void store_number(int opt, long v, struct sl_config *cfg)
{
    switch (opt) {
    case 'p': cfg->port = (int)v; break;
    case OPT_THREADS: cfg->threads = (unsigned)v; break;
    case OPT_MAX_AGE: cfg->max_age = v; break;
    case OPT_HEAD_TIMEOUT: cfg->head_timeout_s = (unsigned)v; break;
    case OPT_IDLE_TIMEOUT: cfg->idle_timeout_s = (unsigned)v; break;
    case OPT_SEND_TIMEOUT: cfg->send_timeout_s = (unsigned)v; break;
    case OPT_MAX_CONNS: cfg->max_conns = (unsigned)v; break;
    case OPT_LISTING_MAX_ENTRIES: cfg->listing_max_entries = (unsigned)v; break;
    case OPT_TAR_MAX_ENTRIES: cfg->tar_max_entries = (unsigned)v; break;
    }
}

/* A number option: 0 when opt is one and was stored, -1 after an error was printed, 1
 * when opt takes no number. */
static int apply_number(int opt, const char *arg, struct sl_config *cfg, FILE *err)
{
    for (size_t i = 0; i < sizeof(number_specs) / sizeof(number_specs[0]); i++) {
        const struct number_spec *n = &number_specs[i];
        long v;
        if (n->opt != opt)
            continue;
        if (number_option(n->name, arg, n->min, n->max, &v, err) != 0)
            return -1;
        store_number(opt, v, cfg);
        return 0;
    }
    return 1;
}

/* A root-relative path of whole segments, none empty, "." or "..". */
static bool page_path_ok(const char *p)
{
    for (;;) {
        size_t n = strcspn(p, "/");
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        if (p[n] == '\0')
            return true;
        p += n + 1;
    }
}

/* A page named by configuration (--404, --spa=FILE) must lie under the root (a leading
 * '/' is the root's). NULL on anything else, after one line on err. */
static const char *page_option(const char *name, const char *arg, FILE *err)
{
    while (*arg == '/')
        arg++;
    if (page_path_ok(arg))
        return arg;
    fprintf(err,
            "sluice: %s needs a file under the root, like 404.html or errors/404.html, "
            "not '%s'\n",
            name, arg);
    return NULL;
}

/* Applies one option; returns 0, 1 (help/version printed) or -1 (error printed). */
static int apply_option(int opt, const char *arg, struct sl_config *cfg, FILE *out, FILE *err)
{
    int rc = apply_number(opt, arg, cfg, err);
    if (rc <= 0)
        return rc;
    switch (opt) {
    case 'b':
        if (*arg == '\0') {
            fprintf(err, "sluice: --bind needs an address\n");
            return -1;
        }
        cfg->bind = arg;
        return 0;
    case OPT_QUIET: cfg->quiet = true; return 0;
    case OPT_LOG: cfg->log_path = arg; return 0;
    case OPT_NO_LISTING: cfg->listing = false; return 0;
    case OPT_NO_TAR: cfg->tar = false; return 0;
    case OPT_DOTFILES: cfg->dotfiles = true; return 0;
    case OPT_ERROR_PAGE:
        cfg->error_page = page_option("--404", arg, err);
        return cfg->error_page ? 0 : -1;
    case OPT_NO_CLEAN_URLS: cfg->clean_urls = false; return 0;
    case OPT_SPA:
        cfg->spa = page_option("--spa", arg ? arg : "index.html", err);
        return cfg->spa ? 0 : -1;
    case OPT_FOLLOW_SYMLINKS: cfg->follow_symlinks = true; return 0;
    case OPT_USER: cfg->user = arg; return 0;
    case OPT_CHROOT: cfg->chroot = true; return 0;
    case 'h': print_help(out); return 1;
    case OPT_VERSION: fprintf(out, "sluice %s\n", SLUICE_VERSION); return 1;
    default: return -1; /* getopt already printed why */
    }
}

int sl_options_parse(int argc, char **argv, struct sl_config *cfg, FILE *out, FILE *err)
{
    set_defaults(cfg);
    /* Leading ':' makes getopt return ':' or '?' silently, so every message is ours. */
    opterr = 0;
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, ":p:b:h", long_options, NULL)) != -1) {
        if (opt == '?') {
            if (optopt != 0)
                fprintf(err, "sluice: unknown option '-%c' (see --help)\n", optopt);
            else
                fprintf(err, "sluice: unknown option '%s' (see --help)\n", argv[optind - 1]);
            return -1;
        }
        if (opt == ':') {
            fprintf(err, "sluice: option '%s' needs a value (see --help)\n", argv[optind - 1]);
            return -1;
        }
        int rc = apply_option(opt, optarg, cfg, out, err);
        if (rc != 0)
            return rc;
    }
    if (optind < argc)
        cfg->root = argv[optind++];
    if (optind < argc) {
        fprintf(err, "sluice: only one ROOT may be given, got '%s' too (see --help)\n",
                argv[optind]);
        return -1;
    }
    if (!cfg->listing)
        cfg->tar = false; /* an archive lists a tree as surely as a listing does */
    if (cfg->chroot && cfg->user == NULL) {
        fprintf(err, "sluice: --chroot needs --user (a root process can leave a chroot)\n");
        return -1;
    }
    return 0;
}
