/* cmocka needs these before its header. */
#ifndef DBP_CMOCKA_ALL_H
#define DBP_CMOCKA_ALL_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#endif
