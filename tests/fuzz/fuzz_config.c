/* fuzz_config.c - libFuzzer target for the YAML configuration loader. */
#include "dbp/config.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct dbp_config cfg;
    struct dbp_err err = {0};
    dbp_config_defaults(&cfg);
    (void)dbp_config_parse("fuzz.yaml", (const char *)data, size, &cfg, &err);
    return 0;
}
