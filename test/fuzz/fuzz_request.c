/* Fuzz target for the request path: raw connection bytes, delivered in pieces the way
 * read(2) might, go into a real exchange (exchange.c: the llhttp glue, the head buffer,
 * pipelined leftovers moved to the front), and every complete request is planned by
 * the real responder (respond.c: cache, router, planner) against a fixture tree. Each planned
 * response is checked: a well-formed head, a Content-Length that matches the body, file parts
 * inside the file, no network-path Location, and no descriptor left open once the response is
 * ended.
 *
 * Input layout: byte 0 picks the configuration (bit 0 listing and clean URLs, bit 1
 * dotfiles and an --spa page; both: another error page) and whether the clock passes
 * the file cache's TTL between requests (bit 2); byte 1 how the rest is cut into reads;
 * the rest is what the client sends. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sluice/exchange.h"
#include "sluice/inject.h"
#include "sluice/respond.h"
#include "sluice/response.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_request: invariant failed at line %d: %s\n", __LINE__, #cond);   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Four configurations over the same tree: listing on/off x dotfiles on/off. */
static struct sl_config configs[4];
static struct sl_cache cache;
static struct sl_responder responder;
static struct sl_root_shared root_shared;
static uint64_t cache_clock; /* the loop's clock as the cache sees it, in ms */
static char tmp_dir[PATH_MAX / 2];
/* Descriptors open when an input starts (libFuzzer opens some of its own along the
 * way): once a response has been ended, no other may be open. */
#define FD_WATCH 64
static bool fd_open_before[FD_WATCH];

/* ---- fixture ---- */

static void die(const char *what)
{
    fprintf(stderr, "fuzz_request: set-up failed: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void put_file(const char *dir, const char *name, const char *content, size_t len)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        die(path);
    if (len > 0 && write(fd, content, len) != (ssize_t)len)
        die(path);
    close(fd);
}

static void put_text(const char *dir, const char *name, const char *content)
{
    put_file(dir, name, content, strlen(content));
}

static void put_dir(const char *dir, const char *name)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (mkdir(path, 0755) != 0)
        die(path);
}

static void put_link(const char *dir, const char *name, const char *target)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (symlink(target, path) != 0)
        die(path);
}

/* Sets a file's mtime to `sec` seconds: variants must be at least as new as their
 * original to be served, and one stale variant must be skipped. */
static void set_mtime(const char *dir, const char *name, time_t sec)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    struct timespec ts[2] = {{sec, 0}, {sec, 0}};
    if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) != 0)
        die(path);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void remove_fixture(void)
{
    nftw(tmp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void build_fixture(void)
{
    /* Removed at exit; after a crash it stays, so the runner points TMPDIR at a scratch
     * directory of its own. */
    const char *tmp = getenv("TMPDIR");
    int n =
        snprintf(tmp_dir, sizeof(tmp_dir), "%s/sluice-fuzz-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (n < 0 || (size_t)n >= sizeof(tmp_dir) || !mkdtemp(tmp_dir))
        die("mkdtemp");
    atexit(remove_fixture);
    /* Outside the root: what an escaping symlink would reach. */
    put_text(tmp_dir, "secret.txt", "outside the root\n");

    char root[PATH_MAX / 2 + 8];
    snprintf(root, sizeof(root), "%s/root", tmp_dir);
    put_dir(tmp_dir, "root");

    static char bin[3000];
    for (size_t i = 0; i < sizeof(bin); i++)
        bin[i] = (char)(i * 131 + 7);
    put_text(root, "index.html", "<!DOCTYPE html><title>root</title><p>hello</p>\n");
    put_text(root, "404.html", "<!DOCTYPE html><title>not here</title>\n");
    put_text(root, "clean.html", "<!DOCTYPE html><title>a clean URL</title>\n");
    put_text(root, "body.html", "<!DOCTYPE html><title>b</title><body><p>b</p></BODY></html>\n");
    put_dir(root, "htm");
    put_text(root, "htm/index.htm", "<!DOCTYPE html><title>htm</title>\n");
    put_text(root, "a.txt", "0123456789abcdefghijklmnopqrstuvwxyz\n");
    put_file(root, "data.bin", bin, sizeof(bin));
    put_file(root, "empty.txt", "", 0);
    put_text(root, "with space.txt", "spaces\n");
    put_text(root, "caf\xc3\xa9.txt", "utf-8 name\n");
    put_text(root, "percent%41.txt", "a percent sign in the name\n");
    put_text(root, "style.css", "body { margin: 0 }\n");
    put_text(root, ".hidden", "a dotfile\n");
    put_dir(root, ".git");
    put_text(root, ".git/config", "[core]\n");
    put_dir(root, ".well-known");
    put_text(root, ".well-known/security.txt", "Contact: mailto:x@example.org\n");

    /* Precompressed variants (contents need not really be compressed). */
    put_text(root, "app.js", "console.log('identity');\n");
    put_text(root, "app.js.br", "br bytes");
    put_text(root, "app.js.gz", "gzip bytes, a little longer");
    put_text(root, "app.js.zst", "zstd");
    set_mtime(root, "app.js", 1000000000);
    set_mtime(root, "app.js.br", 1000000000);
    set_mtime(root, "app.js.gz", 1000000001);
    set_mtime(root, "app.js.zst", 1000000002);
    put_text(root, "old.css", "p { color: red }\n");
    put_text(root, "old.css.gz", "stale gzip");
    set_mtime(root, "old.css", 1200000000);
    set_mtime(root, "old.css.gz", 1100000000); /* older than the original: never served */
    put_dir(root, "app.js.gz.d");              /* a directory is not a variant */

    put_dir(root, "sub");
    put_text(root, "sub/index.html", "<!DOCTYPE html><title>sub</title>\n");
    put_text(root, "sub/page.html", "<p>page</p>\n");
    put_dir(root, "sub/deeper");
    put_text(root, "sub/deeper/x.json", "{\"x\":1}\n");
    put_dir(root, "nodir");
    put_text(root, "nodir/one.txt", "1\n");
    put_text(root, "nodir/<b>&amp;\".txt", "markup in a name\n");
    put_text(root, "nodir/.dot", "dot\n");
    put_dir(root, "nodir/child");
    put_dir(root, "empty-dir");

    put_link(root, "link.txt", "a.txt");
    put_link(root, "sublink", "sub");
    put_link(root, "escape.txt", "../secret.txt");
    put_link(root, "abs.txt", "/etc/hostname");
    put_link(root, "dangling", "does-not-exist");
    put_link(root, "nodir/up", "..");
    put_link(root, "nodir/escape-dir", "../..");

    char fifo[PATH_MAX];
    snprintf(fifo, sizeof(fifo), "%s/pipe", root);
    if (mkfifo(fifo, 0644) != 0)
        die(fifo);

    int root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0)
        die(root);
    for (int i = 0; i < 4; i++) {
        configs[i] = (struct sl_config){
            .root = root,
            .root_fd = root_fd,
            .log_fd = -1,
            .threads = 1,
            .max_age = -1,
            .listing = i & 1,
            .tar = i & 1,
            .tar_max_entries = i == 3 ? 20 : 1000, /* the root's tree is over 20: 403 */
            .dotfiles = (i & 2) != 0,
            .clean_urls = (i & 1) != 0,
            .spa = i & 2 ? "sub/index.html" : NULL,
            .error_page = i == 3 ? "sub/page.html" : NULL,
            .live = i >= 2,
        };
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    build_fixture();
    /* No loop: directories are read at once, so every request is planned in one call. */
    if (sl_responder_init(&responder, NULL, &configs[0], &cache, &root_shared, 0) != 0)
        die("sl_responder_init");
    return 0;
}

/* ---- checks ---- */

static bool has_prefix(const char *p, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && memcmp(p, prefix, k) == 0;
}

/* Finds header field `name` (exact case, as sluice writes them) in the head; returns its
 * value span or {NULL, 0}. Fails if the field appears twice. */
static struct sl_str head_field(const char *head, size_t n, const char *name)
{
    struct sl_str found = {NULL, 0};
    size_t k = strlen(name);
    const char *p = memchr(head, '\n', n); /* skip the status line */
    const char *end = head + n;
    while (p != NULL && p + 1 < end) {
        p++;
        const char *eol = memchr(p, '\r', (size_t)(end - p));
        CHECK(eol != NULL);
        size_t line = (size_t)(eol - p);
        if (line > k + 1 && memcmp(p, name, k) == 0 && p[k] == ':' && p[k + 1] == ' ') {
            CHECK(found.p == NULL);
            found = sl_str_make(p + k + 2, line - k - 2);
        }
        p = memchr(eol, '\n', (size_t)(end - eol));
    }
    return found;
}

static uint64_t parse_u64(struct sl_str s)
{
    CHECK(s.n > 0 && s.n <= 20);
    uint64_t v = 0;
    for (size_t i = 0; i < s.n; i++) {
        CHECK(s.p[i] >= '0' && s.p[i] <= '9');
        v = v * 10 + (uint64_t)(s.p[i] - '0');
    }
    return v;
}

/* Reads every byte of a memory part, so ASan sees a part that points outside its buffer. */
static volatile unsigned char sink;

static void touch(const char *p, size_t n)
{
    unsigned char acc = 0;
    for (size_t i = 0; i < n; i++)
        acc ^= (unsigned char)p[i];
    sink = acc;
}

static void check_head(const struct sl_exchange *ex)
{
    CHECK(ex->plan.nsegs >= 1 && ex->plan.nsegs <= SL_SEGS_MAX);
    const struct sl_seg *h = &ex->plan.segs[0];
    CHECK(h->mem == ex->plan.out && h->off == 0);
    CHECK(h->len <= sizeof(ex->plan.out));
    const char *head = h->mem;
    size_t n = (size_t)h->len;
    CHECK(has_prefix(head, n, "HTTP/1.1 "));
    CHECK(n >= 4 && memcmp(head + n - 4, "\r\n\r\n", 4) == 0);
    /* Status line "HTTP/1.1 DDD " with the planned status. */
    CHECK(n > 13 && head[12] == ' ');
    int status = (head[9] - '0') * 100 + (head[10] - '0') * 10 + (head[11] - '0');
    CHECK(status == ex->plan.status);
    CHECK(status >= 200 && status <= 599);
    /* Line structure: CR only before LF, LF only after CR, and the empty line only at
     * the very end (no field can end the head early or start a second response). */
    for (size_t i = 0; i < n; i++) {
        if (head[i] == '\r')
            CHECK(i + 1 < n && head[i + 1] == '\n');
        if (head[i] == '\n')
            CHECK(i > 0 && head[i - 1] == '\r');
        if (head[i] == '\0')
            CHECK(!"NUL in response head");
    }
    for (size_t i = 0; i + 4 < n; i++)
        CHECK(memcmp(head + i, "\r\n\r\n", 4) != 0);
    if (!ex->plan.keep_alive) {
        static const char close_field[] = "\r\nConnection: close\r\n";
        CHECK(memmem(head, n, close_field, sizeof(close_field) - 1) != NULL);
    }
}

static bool within(const char *p, uint64_t n, const char *base, uint64_t base_len)
{
    return p >= base && p <= base + base_len && n <= (uint64_t)(base + base_len - p);
}

/* Pulls a produced body to its end, as conn.c would while the socket drains: exactly
 * the promised bytes, every one readable (memory), or within its file (a tar member). */
static void check_produced(struct sl_producer *p, uint64_t promised)
{
    uint64_t got = 0;
    struct sl_chunk k;
    while (p->produce(p, &k) == 0 && k.len > 0) {
        if (k.mem) {
            CHECK(k.len <= SIZE_MAX);
            touch(k.mem, (size_t)k.len);
        } else {
            struct stat st;
            CHECK(k.fd >= 0 && fstat(k.fd, &st) == 0 && S_ISREG(st.st_mode));
            CHECK(k.off <= (uint64_t)st.st_size && k.len <= (uint64_t)st.st_size - k.off);
        }
        got += k.len;
    }
    CHECK(got == promised);
}

static void check_response(const struct sl_exchange *ex)
{
    check_head(ex);
    const char *head = ex->plan.segs[0].mem;
    size_t n = (size_t)ex->plan.segs[0].len;

    struct stat st;
    bool have_file = ex->file_fd >= 0;
    if (have_file)
        CHECK(fstat(ex->file_fd, &st) == 0 && S_ISREG(st.st_mode));
    uint64_t body = 0;
    uint64_t produced = 0;
    for (unsigned i = 1; i < ex->plan.nsegs; i++) {
        const struct sl_seg *s = &ex->plan.segs[i];
        if (s->mem == NULL && ex->plan.producer != NULL) {
            /* A listing from its first byte on; a tar archive's ranges anywhere. */
            CHECK(s->len > 0 && (ex->plan.produce == SL_PRODUCE_TAR || s->off == produced));
            produced += s->len;
        } else if (s->mem == NULL) {
            CHECK(have_file);
            CHECK(s->len > 0);
            CHECK(s->off <= (uint64_t)st.st_size && s->len <= (uint64_t)st.st_size - s->off);
        } else {
            CHECK(s->off <= SIZE_MAX && s->len <= SIZE_MAX - s->off);
            /* In the exchange's own buffer (after the head), the built-in error page, or
             * the cached file the response holds a reference to. */
            const char *p = s->mem + s->off;
            bool in_out = within(p, s->len, ex->plan.out, sizeof(ex->plan.out));
            bool in_cache =
                ex->pinned != NULL && ex->pinned->rep.data != NULL &&
                within(p, s->len, ex->pinned->rep.data, (uint64_t)ex->pinned->rep.st.st_size);
            const struct sl_built_in_page *page = sl_built_in_page(ex->plan.status);
            bool in_page = page && within(p, s->len, page->body.p, page->body.n);
            struct sl_str script = sl_inject_script(); /* --live */
            bool in_script = s->mem == script.p && s->off == 0 && s->len == script.n;
            CHECK(in_out || in_cache || in_page || in_script);
            touch(p, (size_t)s->len);
        }
        body += s->len;
    }
    CHECK(body == ex->plan.body_bytes || ex->plan.head_only);
    CHECK((produced > 0) == (ex->plan.producer != NULL));
    if (produced > 0)
        check_produced(ex->plan.producer, produced);

    struct sl_str cl = head_field(head, n, "Content-Length");
    struct sl_str type = head_field(head, n, "Content-Type");
    if (sl_str_eq(type, SL_STR("text/event-stream"))) {
        /* --live's event stream: no length, ended by closing; open only after a GET. */
        CHECK(cl.p == NULL && !ex->plan.keep_alive && ex->plan.status == 200);
        CHECK(ex->plan.stream == !ex->plan.head_only);
    } else if (ex->plan.status == 304) {
        CHECK(ex->plan.nsegs == 1);
    } else {
        CHECK(cl.p != NULL);
        if (ex->plan.head_only)
            CHECK(ex->plan.nsegs == 1);
        else
            CHECK(parse_u64(cl) == body);
    }

    struct sl_str loc = head_field(head, n, "Location");
    if (loc.p != NULL) {
        CHECK(ex->plan.status == 301);
        CHECK(loc.n >= 1 && loc.p[0] == '/');
        CHECK(!(loc.n >= 2 && (loc.p[1] == '/' || loc.p[1] == '\\')));
    }
}

/* Nothing a request opened may outlive its response and the cache. */
static void check_no_descriptor_leaked(void)
{
    for (int fd = 0; fd < FD_WATCH; fd++) {
        if (!fd_open_before[fd] && fcntl(fd, F_GETFD) != -1) {
            fprintf(stderr, "fuzz_request: descriptor %d leaked\n", fd);
            abort();
        }
    }
}

/* ---- the connection, as conn.c runs it ---- */

/* Read sizes: byte `ctl` == 0 delivers everything at once (as much as fits); otherwise
 * its low six bits give the size, and bit 6 varies it pseudo-randomly below that. */
struct reader {
    const uint8_t *p;
    size_t left;
    uint8_t ctl;
    uint32_t state;
};

static size_t next_read_size(struct reader *r)
{
    size_t base = r->ctl & 0x3f;
    if (r->ctl == 0 || base == 0)
        return r->left;
    if (r->ctl & 0x40) {
        r->state = r->state * 1103515245u + 12345u;
        return 1 + (r->state >> 16) % base;
    }
    return base;
}

/* Plans the response to the head just completed or refused, as conn_parse does after a
 * read. Returns false while the head is incomplete. */
static bool plan(struct sl_exchange *ex, size_t fresh)
{
    int rc = sl_exchange_feed(ex, fresh);
    if (rc == SL_PARSE_MORE) {
        CHECK(ex->in_len < sizeof(ex->in));
        return false;
    }
    if (rc != SL_PARSE_READY) {
        CHECK(rc >= 400 && rc <= 599);
        sl_respond_error(&responder, ex, rc);
        CHECK(ex->plan.status == rc && !ex->plan.keep_alive);
        check_response(ex);
        return true;
    }
    CHECK(ex->in_off <= ex->in_len);
    /* The spans the plan will read lie in the head just parsed. */
    const struct sl_request *req = &ex->req;
    CHECK(req->target.p != NULL);
    CHECK(req->target.p >= ex->in && req->target.p + req->target.n <= ex->in + ex->in_off);
    CHECK(sl_respond(&responder, cache_clock, ex));
    if (req->has_body)
        CHECK(!ex->plan.keep_alive);
    check_response(ex);
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    for (int fd = 0; fd < FD_WATCH; fd++)
        fd_open_before[fd] = fcntl(fd, F_GETFD) != -1;
    responder.cfg = &configs[data[0] & 3];
    /* Listings depend on the configuration (dotfiles): a fresh directory cache too. */
    sl_dircache_clear(&responder.dirs);
    sl_dircache_init(&responder.dirs, NULL, responder.cfg, SL_DIRCACHE_BYTES);
    sl_tarcache_clear(&responder.tars);
    sl_tarcache_init(&responder.tars, NULL, responder.cfg, SL_TARCACHE_BYTES);
    struct reader rd = {data + 2, size - 2, data[1], data[1]};

    struct sl_exchange_pool pool = {0};
    struct sl_exchange *ex = sl_exchange_get(&pool);
    CHECK(ex != NULL);
    /* A fresh cache per input keeps runs reproducible. The loop clock starts at 0 and,
     * when bit 2 of the configuration byte is set, moves past the cache's TTL after
     * every response so cached entries are re-checked. */
    sl_cache_init(&cache, 8, NULL);
    cache_clock = 0;
    uint64_t tick = data[0] & 4 ? SL_CACHE_TTL_MS + 1 : 0;

    /* Each round: one read(2), then as many responses as the buffer holds heads for. */
    bool open = true;
    while (open && rd.left > 0) {
        size_t n = next_read_size(&rd);
        if (n > rd.left)
            n = rd.left;
        if (n > sizeof(ex->in) - ex->in_len)
            n = sizeof(ex->in) - ex->in_len;
        CHECK(n > 0); /* a full buffer has always been answered with 431/414 */
        memcpy(ex->in + ex->in_len, rd.p, n);
        rd.p += n;
        rd.left -= n;
        ex->in_len += n;
        size_t fresh = n;
        while (plan(ex, fresh)) {
            bool keep = ex->plan.keep_alive;
            sl_exchange_end_response(ex, &cache);
            cache_clock += tick;
            if (!keep) {
                open = false;
                break;
            }
            /* conn_next_request: with nothing buffered, the exchange goes back to the
             * pool, which resets it (the parser too) for the next request. */
            fresh = sl_exchange_next_request(ex);
            if (fresh == 0) {
                sl_exchange_put(&pool, &cache, ex);
                ex = sl_exchange_get(&pool);
                CHECK(ex != NULL);
                break;
            }
        }
    }
    sl_exchange_put(&pool, &cache, ex);
    sl_exchange_pool_free(&pool);
    sl_cache_free(&cache);
    /* The tick lets go of the page entries the responder holds, which the cache has
     * just dropped: none may keep a descriptor past the input. */
    sl_responder_tick(&responder, cache_clock);
    check_no_descriptor_leaked();
    return 0;
}
