/*
 * Test helper: runs itx's DB post-processing on a detector map dumped by
 * tools/ref-ocr/ref-ocr.mjs --dump-maps (int32 width, int32 height, float32 values) and
 * prints the boxes as JSON, for tests/ocr/db-parity.mjs to compare with the reference.
 * Usage: db_map_boxes MAP IMAGE_WIDTH IMAGE_HEIGHT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/util.h"
#include "ocr/ocr.h"

int
main(int argc, char **argv)
{
    uint8_t *data = NULL;
    size_t len = 0, n = 0;
    int32_t mw, mh;
    float *map;
    struct itx_ocr_quad *q = NULL;
    struct itx_diag d;
    long long iw, ih;

    itx_diag_init(&d);
    if (argc != 4 || !itx_parse_int(argv[2], 1, 100000, &iw) ||
        !itx_parse_int(argv[3], 1, 100000, &ih)) {
        fprintf(stderr, "usage: db_map_boxes MAP IMAGE_WIDTH IMAGE_HEIGHT\n");
        return 2;
    }
    if (itx_file_read(argv[1], (size_t)1 << 30, &data, &len, &d) != ITX_OK) {
        fprintf(stderr, "%s\n", d.msg);
        return 1;
    }
    if (len < 8) {
        fprintf(stderr, "'%s' is too short\n", argv[1]);
        return 1;
    }
    memcpy(&mw, data, 4);
    memcpy(&mh, data + 4, 4);
    if (mw < 1 || mh < 1 || len != 8 + (size_t)mw * (size_t)mh * 4) {
        fprintf(stderr, "'%s' is not a %dx%d map\n", argv[1], mw, mh);
        return 1;
    }
    map = malloc((size_t)mw * (size_t)mh * sizeof(float));
    memcpy(map, data + 8, (size_t)mw * (size_t)mh * sizeof(float));
    if (itx_ocr_db_boxes(map, mw, mh, (int)iw, (int)ih, NULL, &q, &n, &d) != ITX_OK) {
        fprintf(stderr, "%s\n", d.msg);
        return 1;
    }
    printf("[");
    for (size_t i = 0; i < n; i++) {
        printf("%s{\"pts\":[", i ? "," : "");
        for (int k = 0; k < 4; k++)
            printf("%s[%g,%g]", k ? "," : "", (double)q[i].pt[2 * k], (double)q[i].pt[2 * k + 1]);
        printf("],\"score\":%.6f}", (double)q[i].score);
    }
    printf("]\n");
    itx_free(q);
    itx_free(data);
    free(map);
    return 0;
}
