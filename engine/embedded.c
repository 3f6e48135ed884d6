#include "embedded.h"

#include <stdlib.h>
#include <string.h>

static int compare_key_to_file(const void *key, const void *element)
{
    return strcmp(key, ((const struct sbx_embedded_file *)element)->path);
}

const struct sbx_embedded_file *sbx_embedded_find(const char *path)
{
    return bsearch(path, sbx_embedded_files, sbx_embedded_count, sizeof sbx_embedded_files[0],
                   compare_key_to_file);
}
