/* From a parsed request to a planned response: status, head and body segments in the
 * exchange. Opens the file (router), evaluates validators, ranges and encodings; sends
 * nothing itself (conn.c does). */
#ifndef SLUICE_SERVE_H
#define SLUICE_SERVE_H

#include "sluice/conn.h"

/* Plans the answer to ex->req. */
void sl_serve(struct sl_worker *w, struct sl_exchange *ex);

/* Plans an error page for `status`; the connection closes after it when `close` is set
 * (malformed requests: RFC 9112 §9.6 leaves no safe way to find the next request). */
void sl_serve_error(struct sl_worker *w, struct sl_exchange *ex, int status, bool close);

#endif
