/* Access log in Combined Log Format, buffered per event loop: lines collect in memory
 * and go out in one write(2) when the buffer fills or the loop's 1 s tick fires, so
 * logging costs no syscall per request. */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "sluice/buf.h"
#include "sluice/httpdate.h"
#include "sluice/str.h"

#define SL_LOG_BUF 65536

struct sl_log {
    int fd; /* -1: logging off */
    time_t stamp_sec;
    char stamp[SL_LOGDATE_LEN + 1]; /* "23/Nov/2026:18:52:40 +0000" for stamp_sec */
    struct sl_buf buf;              /* fixed, over SL_LOG_BUF bytes of heap */
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

/* Returns 0, or -ENOMEM. fd < 0 makes every other call a no-op. */
int sl_log_init(struct sl_log *log, int fd);
void sl_log_request(struct sl_log *log, time_t now, const struct sl_log_entry *e);
void sl_log_flush(struct sl_log *log);
void sl_log_free(struct sl_log *log);

#endif
