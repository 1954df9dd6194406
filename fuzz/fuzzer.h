/*
 * fuzzer.h - the libFuzzer entry points every fuzz/<name>_fuzzer.c
 * implements, declared once so the targets build with -Wmissing-prototypes
 * both against libFuzzer and against standalone_driver.c.
 */
#ifndef FUZZ_FUZZER_H
#define FUZZ_FUZZER_H

#include <stddef.h>
#include <stdint.h>

/* Run one input. The data is only valid during the call. Returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
