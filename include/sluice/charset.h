/* The character encoding an HTML document declares, found in its first bytes as
 * browsers find it, so that the Content-Type header can name it. Pure. */
#ifndef SLUICE_CHARSET_H
#define SLUICE_CHARSET_H

#include <stddef.h>

/* How much of a document the prescan reads: the 1,024 bytes the HTML standard
 * encourages browsers to prescan (§13.2.3.2). */
#define SL_CHARSET_PRESCAN_MAX 1024

/* The Encoding Standard's "get an encoding": the name of the encoding a label stands
 * for, lower-cased for a charset parameter ("ISO-8859-1" and " latin1 " give
 * "windows-1252", "UTF8" gives "utf-8"), or NULL when it names none. Static. */
const char *sl_charset_from_label(const char *label, size_t len);

/* The encoding the start of an HTML document declares, as a browser would decode it
 * with no charset from HTTP: a byte order mark; else the HTML standard's "prescan a
 * byte stream to determine its encoding" over the first SL_CHARSET_PRESCAN_MAX bytes of
 * buf (<meta charset=...>, or <meta http-equiv="Content-Type" content="...;
 * charset=...">, skipping comments, other tags, end tags and <! and <? constructs); else
 * the encoding of a leading <?xml ...?> declaration. Returns the encoding's name in
 * lower case, not the label as written ("windows-1252" for ISO-8859-1, the encoding
 * browsers use for it), with a meta's UTF-16 given as "utf-8" and its x-user-defined as
 * "windows-1252" as the standard says; or NULL when nothing is declared, or only labels
 * that name no encoding, or a <meta> is cut off by the end of the bytes. The string is
 * static. */
const char *sl_charset_prescan(const void *buf, size_t len);

#endif
