/* common/editdist.h: how far apart two short words are, for "did you mean".
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Used by the config loader (unknown keys) and the access-log format check
 * (unknown $variables). Pure functions.
 */
#ifndef AM_COMMON_EDITDIST_H
#define AM_COMMON_EDITDIST_H

#include <stddef.h>

/* The optimal string alignment (Damerau-Levenshtein) distance between a
 * and b, ignoring case; words longer than 64 bytes are compared on their
 * first 64. */
size_t am_editdist_compute(const char *a, const char *b);

/* 1 when a typed word at distance d from a known one is close enough to
 * suggest it (at most 3 edits, and at most a third of the longer word). */
int am_editdist_is_close(const char *typed, const char *known, size_t d);

#endif
