/* Access log in Combined Log Format or as JSON lines (--log-format json), buffered per
 * event loop: lines collect in memory and go out in one write(2) when the buffer fills
 * or the loop's 1 s tick fires, so logging costs no syscall per request. */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "sluice/buf.h"
#include "sluice/httpdate.h"
#include "sluice/str.h"

#define SL_LOG_BUF 65536

struct sl_log {
    int fd;    /* -1: logging off */
    bool json; /* JSON lines instead of the Combined Log Format */
    time_t stamp_sec;
    /* stamp_sec as "23/Nov/2026:18:52:40 +0000", or "2026-11-23T18:52:40Z" for JSON */
    char stamp[SL_LOGDATE_LEN + 1];
    struct sl_buf buf; /* fixed, over SL_LOG_BUF bytes of heap */
};

struct sl_log_entry {
    const char *peer; /* printable client address */
    struct sl_str method;
    struct sl_str target;
    unsigned http_major, http_minor;
    int status;
    uint64_t bytes;
    struct sl_str referer;
    struct sl_str user_agent;
};

/* Returns 0, or -ENOMEM. fd < 0 makes every other call a no-op. A JSON line is
 * {"time":"2026-11-23T18:52:40Z","remote_addr":"::1","method":"GET","target":"/",
 * "protocol":"HTTP/1.1","status":200,"bytes":512,"referer":null,"user_agent":"curl/8"},
 * strings escaped per RFC 8259, absent header fields null. */
int sl_log_init(struct sl_log *log, int fd, bool json);
void sl_log_request(struct sl_log *log, time_t now, const struct sl_log_entry *e);
void sl_log_flush(struct sl_log *log);
void sl_log_free(struct sl_log *log);

#endif
