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
};

static const struct option long_options[] = {
    {"port", required_argument, NULL, 'p'},
    {"bind", required_argument, NULL, 'b'},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"log", required_argument, NULL, OPT_LOG},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"max-age", required_argument, NULL, OPT_MAX_AGE},
    {"no-listing", no_argument, NULL, OPT_NO_LISTING},
    {"dotfiles", no_argument, NULL, OPT_DOTFILES},
    {"head-timeout", required_argument, NULL, OPT_HEAD_TIMEOUT},
    {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
    {"send-timeout", required_argument, NULL, OPT_SEND_TIMEOUT},
    {"max-conns", required_argument, NULL, OPT_MAX_CONNS},
    {"user", required_argument, NULL, OPT_USER},
    {"chroot", no_argument, NULL, OPT_CHROOT},
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
            "      --dotfiles        serve and list names starting with '.' (default: 404,\n"
            "                        except .well-known/)\n"
            "      --head-timeout S  close a client that has not sent a full request head\n"
            "                        within S seconds (default %d)\n"
            "      --idle-timeout S  close a keep-alive connection idle for S seconds\n"
            "                        (default %d)\n"
            "      --send-timeout S  close a response that made no progress for S seconds\n"
            "                        (default %d)\n"
            "      --max-conns N     most simultaneous connections (default: from the\n"
            "                        descriptor limit, which is raised to its hard maximum)\n"
            "      --user NAME       when started as root: drop to NAME after binding\n"
            "      --chroot          with --user: also confine the process to ROOT\n"
            "  -h, --help            show this help and exit\n"
            "      --version         show the version and exit\n"
            "\n"
            "Ctrl-C (SIGINT) or SIGTERM stops accepting and lets responses in flight finish\n"
            "for up to %d seconds; a second Ctrl-C stops at once.\n",
            SL_DEFAULT_PORT, SL_DEFAULT_BIND, SL_DEFAULT_HEAD_TIMEOUT, SL_DEFAULT_IDLE_TIMEOUT,
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
        .clean_urls = true,
        .head_timeout_s = SL_DEFAULT_HEAD_TIMEOUT,
        .idle_timeout_s = SL_DEFAULT_IDLE_TIMEOUT,
        .send_timeout_s = SL_DEFAULT_SEND_TIMEOUT,
    };
}

/* Applies one option; returns 0, 1 (help/version printed) or -1 (error printed). */
static int apply_option(int opt, const char *arg, struct sl_config *cfg, FILE *out, FILE *err)
{
    long v;
    switch (opt) {
    case 'p':
        if (number_option("--port", arg, 0, 65535, &v, err) != 0)
            return -1;
        cfg->port = (int)v;
        return 0;
    case 'b':
        if (*arg == '\0') {
            fprintf(err, "sluice: --bind needs an address\n");
            return -1;
        }
        cfg->bind = arg;
        return 0;
    case OPT_QUIET: cfg->quiet = true; return 0;
    case OPT_LOG: cfg->log_path = arg; return 0;
    case OPT_THREADS:
        if (number_option("--threads", arg, 1, 256, &v, err) != 0)
            return -1;
        cfg->threads = (unsigned)v;
        return 0;
    case OPT_MAX_AGE:
        if (number_option("--max-age", arg, 0, 31536000, &v, err) != 0)
            return -1;
        cfg->max_age = v;
        return 0;
    case OPT_NO_LISTING: cfg->listing = false; return 0;
    case OPT_DOTFILES: cfg->dotfiles = true; return 0;
    case OPT_HEAD_TIMEOUT:
        if (number_option("--head-timeout", arg, 1, 86400, &v, err) != 0)
            return -1;
        cfg->head_timeout_s = (unsigned)v;
        return 0;
    case OPT_IDLE_TIMEOUT:
        if (number_option("--idle-timeout", arg, 1, 86400, &v, err) != 0)
            return -1;
        cfg->idle_timeout_s = (unsigned)v;
        return 0;
    case OPT_SEND_TIMEOUT:
        if (number_option("--send-timeout", arg, 1, 86400, &v, err) != 0)
            return -1;
        cfg->send_timeout_s = (unsigned)v;
        return 0;
    case OPT_MAX_CONNS:
        if (number_option("--max-conns", arg, 1, 10000000, &v, err) != 0)
            return -1;
        cfg->max_conns = (unsigned)v;
        return 0;
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
    if (cfg->chroot && cfg->user == NULL) {
        fprintf(err, "sluice: --chroot needs --user (a root process can leave a chroot)\n");
        return -1;
    }
    return 0;
}
