/* Response heads: status line, header fields and small HTML error pages, built into a
 * caller-owned buffer. Pure: no I/O, so header building is unit tested directly. */
#ifndef SLUICE_RESPONSE_H
#define SLUICE_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/buf.h" /* response heads are sl_bufs: callers get buf.h from here */
#include "sluice/str.h"

#define SL_SERVER_NAME "sluice"

/* The reason phrase for a status code we send ("Not Found"); "Unknown" otherwise. */
const char *sl_status_reason(int status);

/* Appends "HTTP/1.1 <status> <reason>\r\nDate: <date>\r\nServer: sluice\r\n". */
void sl_head_begin(struct sl_buf *b, int status, const char *date);

/* Appends "<name>: <value>\r\n". */
void sl_head_field(struct sl_buf *b, const char *name, struct sl_str value);
void sl_head_field_u64(struct sl_buf *b, const char *name, uint64_t value);

/* Appends "Connection: close\r\n" or "Connection: keep-alive\r\n" as the request's
 * version needs (1.1 keeps alive by default, 1.0 only when asked), then the final CRLF. */
void sl_head_end(struct sl_buf *b, bool keep_alive, bool http10);

/* Writes a small HTML page explaining `status` into b (the body only). */
void sl_error_page(struct sl_buf *b, int status);

/* The same page with another explanation (plain text, not escaped). */
void sl_error_page_text(struct sl_buf *b, int status, const char *explanation);

#endif
