/* Media types from file name extensions. Pure, table driven. */
#ifndef SLUICE_MIME_H
#define SLUICE_MIME_H

#include <stddef.h>

/* The Content-Type for a file name (or path), chosen by its last extension,
 * case-insensitively. Text types carry "; charset=utf-8". Unknown or missing
 * extension: "application/octet-stream". Never NULL; the string is static. */
const char *sl_mime_type(const char *name, size_t len);

#endif
