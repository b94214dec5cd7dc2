/* The engine hash: which code and data made a result (cmake/engine-hash.cmake). */
#include "cli/cli.h"
#include "engine-hash.h"

const char *
itx_cli_engine(void)
{
    return ITX_ENGINE_HASH;
}
