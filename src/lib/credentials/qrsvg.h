/* qrsvg: a QR code (libqrencode, error correction M, 8-bit mode) of a text as a standalone SVG
 * document: a white square with a 4-module quiet zone and one black path of horizontal runs.
 * Used for membership cards and letters of introduction. */
#ifndef LIB_CREDENTIALS_QRSVG_H
#define LIB_CREDENTIALS_QRSVG_H

/* The SVG (malloc'd, caller frees), or NULL when the text does not fit a QR code (more than
 * 2331 bytes at level M) or memory runs out. */
char *qrsvg_render(const char *text);

#endif
