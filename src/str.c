/* The byte-class table of str.h, worked out by the compiler from the rules below, so that
 * each class reads as its grammar does and no row of 0s and 1s is typed by hand. */
#include "sluice/str.h"

#define ALNUM(c)                                                                                   \
    (((c) >= '0' && (c) <= '9') || ((c) >= 'A' && (c) <= 'Z') || ((c) >= 'a' && (c) <= 'z'))

/* tchar (RFC 9110 §5.6.2): ALPHA, DIGIT and fifteen marks. */
#define TCHAR(c)                                                                                   \
    (ALNUM(c) || (c) == '!' || (c) == '#' || (c) == '$' || (c) == '%' || (c) == '&' ||             \
     (c) == '\'' || (c) == '*' || (c) == '+' || (c) == '-' || (c) == '.' || (c) == '^' ||          \
     (c) == '_' || (c) == '`' || (c) == '|' || (c) == '~')

/* unreserved / sub-delims (RFC 3986 §2.2, §2.3): a reg-name's bytes besides pct-encoded
 * ones. */
#define REG_NAME(c)                                                                                \
    (ALNUM(c) || (c) == '-' || (c) == '.' || (c) == '_' || (c) == '~' || (c) == '!' ||             \
     (c) == '$' || (c) == '&' || (c) == '\'' || (c) == '(' || (c) == ')' || (c) == '*' ||          \
     (c) == '+' || (c) == ',' || (c) == ';' || (c) == '=')

/* What path.c's plain-target pass copies without a second look: all but controls, space,
 * '#', '%', '.', '/', '?' and DEL. */
#define PLAIN_PATH(c)                                                                              \
    ((c) > ' ' && (c) != '#' && (c) != '%' && (c) != '.' && (c) != '/' && (c) != '?' && (c) != 0x7f)

/* etagc (RFC 9110 §8.8.3): %x21 / %x23-7E / obs-text. */
#define ETAGC(c) ((c) == 0x21 || ((c) >= 0x23 && (c) <= 0x7e) || (c) >= 0x80)

#define CLASS(c)                                                                                   \
    (unsigned char)((TCHAR(c) ? SL_BYTE_TCHAR : 0) | (REG_NAME(c) ? SL_BYTE_REG_NAME : 0) |        \
                    (PLAIN_PATH(c) ? SL_BYTE_PLAIN_PATH : 0) | (ETAGC(c) ? SL_BYTE_ETAGC : 0))
#define CLASS4(c) CLASS(c), CLASS((c) + 1), CLASS((c) + 2), CLASS((c) + 3)
#define CLASS16(c) CLASS4(c), CLASS4((c) + 4), CLASS4((c) + 8), CLASS4((c) + 12)
#define CLASS64(c) CLASS16(c), CLASS16((c) + 16), CLASS16((c) + 32), CLASS16((c) + 48)

const unsigned char sl_byte_class[256] = {CLASS64(0), CLASS64(64), CLASS64(128), CLASS64(192)};
