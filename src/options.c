/* Command line: defaults, parsing, --help and --version. Validation of what can be
 * checked without touching the system (numbers, ranges, combinations); opening the
 * root and binding happen in main. */
#include "sluice/config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "sluice/buf.h"
#include "sluice/str.h"

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
    OPT_LOG_FORMAT,
    OPT_LIVE,
    OPT_RATE,
    OPT_CORS,
    OPT_LISTING_MAX_ENTRIES,
    OPT_NO_TAR,
    OPT_TAR_MAX_ENTRIES,
};

static const struct option long_options[] = {
    {"port", required_argument, NULL, 'p'},
    {"bind", required_argument, NULL, 'b'},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"log", required_argument, NULL, OPT_LOG},
    {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
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
    {"live", no_argument, NULL, OPT_LIVE},
    {"rate", required_argument, NULL, OPT_RATE},
    {"header", required_argument, NULL, 'H'},
    {"cors", no_argument, NULL, OPT_CORS},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

/* The first half of --help: where to listen, logging, what is served. */
static void print_help_serving(FILE *out)
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
            "      --log-format F    combined (Combined Log Format, the default) or json\n"
            "                        (one JSON object a line, for log pipelines)\n"
            "      --threads N       event-loop threads (default: number of CPUs)\n"
            "      --max-age N       Cache-Control: public, max-age=N (default: no-cache,\n"
            "                        browsers revalidate; edits are served within 1 s)\n"
            "      --live            reload open pages when a file under ROOT changes, and\n"
            "                        serve edits at once (docs: sluice --live _build/html)\n"
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
            "                        they reach is served; default: 404)\n",
            SL_DEFAULT_PORT, SL_DEFAULT_BIND, SL_DEFAULT_LISTING_MAX_ENTRIES,
            SL_DEFAULT_TAR_MAX_ENTRIES);
}

/* The second half: limits, privileges, testing aids, and how to stop. */
static void print_help_limits(FILE *out)
{
    fprintf(out,
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
            "      --rate R          send response bodies at R bytes per second per\n"
            "                        connection (suffixes k and M: 256k, 1M), to test\n"
            "                        progress bars, players and timeouts\n"
            "  -H, --header FIELD    add FIELD, 'Name: value', to every response\n"
            "                        (repeatable), e.g. -H 'Cross-Origin-Opener-Policy:\n"
            "                        same-origin'\n"
            "      --cors            let pages of any origin fetch from this server\n"
            "                        (Access-Control-* fields, preflights answered)\n"
            "  -h, --help            show this help and exit\n"
            "      --version         show the version and exit\n"
            "\n"
            "Ctrl-C (SIGINT) or SIGTERM stops accepting and lets responses in flight finish\n"
            "for up to %d seconds; a second Ctrl-C stops at once. Started by systemd with\n"
            "sockets (LISTEN_FDS), sluice serves those: --port and --bind do not apply.\n"
            "More in sluice(1).\n",
            SL_DEFAULT_HEAD_TIMEOUT, SL_DEFAULT_IDLE_TIMEOUT, SL_DEFAULT_SEND_TIMEOUT,
            SL_SHUTDOWN_GRACE_MS / 1000);
}

static void print_help(FILE *out)
{
    print_help_serving(out);
    print_help_limits(out);
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

/* A byte rate: a whole number with an optional k (KiB) or M (MiB) suffix, from 1k to
 * 1024M (SO_MAX_PACING_RATE takes 32 bits on every kernel). */
static int rate_option(const char *arg, unsigned *out, FILE *err)
{
    size_t n = strlen(arg);
    unsigned long long unit = 1;
    char digits[32];
    if (n > 0 && (arg[n - 1] == 'k' || arg[n - 1] == 'K'))
        unit = 1024, n--;
    else if (n > 0 && (arg[n - 1] == 'm' || arg[n - 1] == 'M'))
        unit = 1024 * 1024, n--;
    long v = 0;
    if (n == 0 || n >= sizeof(digits)) {
        v = -1;
    } else {
        memcpy(digits, arg, n);
        digits[n] = '\0';
        if (parse_number(digits, 1, 1L << 30, &v) != 0)
            v = -1;
    }
    unsigned long long rate = v > 0 ? (unsigned long long)v * unit : 0;
    if (rate < 1024 || rate > (1ull << 30)) {
        fprintf(err,
                "sluice: --rate needs bytes per second from 1k to 1024M (like 256k or 1M), "
                "not '%s'\n",
                arg);
        return -1;
    }
    *out = (unsigned)rate;
    return 0;
}

/* Fields that frame the message or the connection: sluice alone decides them, and a
 * second one would make the response ambiguous (RFC 9112 §6.3). */
static bool is_framing_field(struct sl_str name)
{
    return sl_str_list_has(SL_STR("Content-Length, Transfer-Encoding, Connection, Content-Range"),
                           name);
}

/* Appends a rendered field to the extra headers; -1 with a line in err when full. */
static int add_rendered(struct sl_config *cfg, struct sl_str name, struct sl_str value, FILE *err)
{
    struct sl_buf b = sl_buf_make(cfg->extra_headers, sizeof(cfg->extra_headers));
    b.len = cfg->extra_headers_len;
    sl_buf_append(&b, name.p, name.n);
    sl_buf_append(&b, ": ", 2);
    sl_buf_append(&b, value.p, value.n);
    sl_buf_append(&b, "\r\n", 2);
    if (b.overflow) {
        fprintf(err, "sluice: the fields given with -H and --cors exceed %d bytes\n",
                SL_EXTRA_HEADERS_MAX);
        return -1;
    }
    cfg->extra_headers_len = b.len;
    return 0;
}

int sl_config_add_header(struct sl_config *cfg, const char *field, FILE *err)
{
    const char *colon = strchr(field, ':');
    struct sl_str name = sl_str_make(field, colon ? (size_t)(colon - field) : strlen(field));
    bool token = name.n > 0;
    for (size_t i = 0; i < name.n; i++)
        token = token && sl_is_tchar((unsigned char)name.p[i]);
    if (!colon || !token) {
        fprintf(err,
                "sluice: -H needs 'Name: value' with a name made of letters, digits and "
                "!#$%%&'*+-.^_`|~, not '%s'\n",
                field);
        return -1;
    }
    struct sl_str value = sl_str_trim(sl_str_cstr(colon + 1));
    for (size_t i = 0; i < value.n; i++) {
        unsigned char c = (unsigned char)value.p[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            fprintf(err,
                    "sluice: -H '%.*s': a value may not hold CR, LF or other control "
                    "characters\n",
                    (int)name.n, name.p);
            return -1;
        }
    }
    if (is_framing_field(name)) {
        fprintf(err, "sluice: -H cannot set %.*s: sluice frames every message itself\n",
                (int)name.n, name.p);
        return -1;
    }
    return add_rendered(cfg, name, value, err);
}

int sl_config_enable_cors(struct sl_config *cfg, FILE *err)
{
    if (cfg->cors)
        return 0;
    cfg->cors = true;
    /* "*" (no credentials): any page may read any response. The range and validator
     * fields are not CORS-safelisted, so a script sees them only when exposed. */
    if (add_rendered(cfg, SL_STR("Access-Control-Allow-Origin"), SL_STR("*"), err) != 0)
        return -1;
    return add_rendered(cfg, SL_STR("Access-Control-Expose-Headers"),
                        SL_STR("Accept-Ranges, Content-Range, Content-Encoding, "
                               "Content-Disposition, ETag"),
                        err);
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
    case 'p':
        cfg->port = (int)v;
        cfg->listen_given = true;
        break;
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
        cfg->listen_given = true;
        return 0;
    case OPT_QUIET: cfg->quiet = true; return 0;
    case OPT_LOG: cfg->log_path = arg; return 0;
    case OPT_LOG_FORMAT:
        if (strcmp(arg, "combined") != 0 && strcmp(arg, "json") != 0) {
            fprintf(err, "sluice: --log-format needs combined or json, not '%s'\n", arg);
            return -1;
        }
        cfg->log_json = strcmp(arg, "json") == 0;
        return 0;
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
    case OPT_LIVE: cfg->live = true; return 0;
    case OPT_USER: cfg->user = arg; return 0;
    case OPT_CHROOT: cfg->chroot = true; return 0;
    case OPT_RATE: return rate_option(arg, &cfg->rate, err);
    case 'H': return sl_config_add_header(cfg, arg, err);
    case OPT_CORS: return sl_config_enable_cors(cfg, err);
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
    while ((opt = getopt_long(argc, argv, ":p:b:hH:", long_options, NULL)) != -1) {
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
