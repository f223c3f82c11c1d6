/* qrsvg: see qrsvg.h. */
#include "lib/credentials/qrsvg.h"

#include <qrencode.h>
#include <stdio.h>
#include <stdlib.h>

char *qrsvg_render(const char *text) {
    QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!q) return NULL;
    int w = q->width, quiet = 4, size = w + 2 * quiet;
    size_t cap = 256 + (size_t)w * (size_t)w * 24, len = 0;
    char *s = malloc(cap);
    if (!s) {
        QRcode_free(q);
        return NULL;
    }
    len += (size_t)snprintf(s + len, cap - len,
                            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
                            "shape-rendering=\"crispEdges\"><rect width=\"%d\" height=\"%d\" "
                            "fill=\"#fff\"/><path fill=\"#000\" d=\"",
                            size, size, size, size);
    for (int y = 0; y < w; y++) {
        for (int x = 0; x < w;) {
            if (!(q->data[y * w + x] & 1)) {
                x++;
                continue;
            }
            int run = 1;
            while (x + run < w && (q->data[y * w + x + run] & 1))
                run++;
            len += (size_t)snprintf(s + len, cap - len, "M%d %dh%dv1h-%dz", x + quiet, y + quiet,
                                    run, run);
            x += run;
        }
    }
    snprintf(s + len, cap - len, "\"/></svg>");
    QRcode_free(q);
    return s;
}
