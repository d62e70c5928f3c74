/*
 * banned.h - functions the daemon's code must not use, refused by the
 * compiler (STYLE §19; git's banned.h is the model, the mechanism is GCC's
 * poison pragma rather than its macros, so a use is an error that names
 * the function).
 *
 * Include it LAST in every src/ file: poisoning an identifier that a
 * system header declares afterwards would break that header.  Each has a
 * bounded or reentrant replacement:
 *   strcpy, strcat        -> dbp_strlcpy, snprintf
 *   sprintf, vsprintf     -> snprintf, vsnprintf, dbp_buf_printf
 *   strtok                -> strtok_r or strcspn
 *   atoi, atol            -> dbp_parse_i64 (range-checked)
 *   gmtime, localtime     -> gmtime_r, localtime_r
 *   system, popen         -> dbp_spawn (an argv array, never a shell)
 *   gets                  -> fgets
 *   cJSON_Parse           -> cJSON_ParseWithLengthOpts (length, end pointer)
 *   cJSON_GetErrorPtr     -> the end pointer of the above (not thread-safe)
 * scripts/lint.sh checks the same list textually (tests/style).
 */
#ifndef DBP_BANNED_H
#define DBP_BANNED_H

#pragma GCC poison strcpy strcat sprintf vsprintf strtok atoi atol gmtime localtime
#pragma GCC poison system popen gets cJSON_Parse cJSON_GetErrorPtr

#endif
