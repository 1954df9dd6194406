/*
 * utf8.h - well-formed UTF-8 (RFC 3629) and safe text: the checks every
 * module applies to text from outside before logging, echoing or writing
 * it. Depends on nothing else in common/.
 */
#ifndef COMMON_UTF8_H
#define COMMON_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Length of the one well-formed UTF-8 sequence at p (1-4), or 0 when the
 * bytes there are not one (stray continuation byte, overlong form,
 * surrogate, past U+10FFFF, cut short by n). n must be > 0.
 */
size_t utf8_seq(const unsigned char *p, size_t n);

/* True when the n bytes are well-formed UTF-8 (RFC 3629). NUL bytes are
 * valid UTF-8: callers that refuse them check separately. */
bool utf8_valid(const char *s, size_t n);

/* True when the n bytes are well-formed UTF-8 without any control
 * character (C0, NUL included, and DEL): safe to log, echo in an answer,
 * and write as a plain stream field. */
bool utf8_text_valid(const char *s, size_t n);

#endif
