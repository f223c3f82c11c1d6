/* statement_pdf: the PDF of a statement (issue 12), made with libharu (libhpdf): A4, the
 * standard Helvetica font (nothing embedded), no compression, no dates, so the same statement
 * gives the same bytes. It shows the statement number, the period, the host (from) and home (to)
 * clubs' names and addresses, the status and the ledger transaction id, the lines grouped by
 * visit with a subtotal per visit, the totals per tax rate and the grand total, amounts in the
 * currency's own decimals (fees_format). Text outside ASCII is shown as '?' (the standard fonts'
 * WinAnsi encoding is not UTF-8): the whole file is then ASCII, so it travels as a string in a
 * raw response (svc_raw_output "application/pdf"). */
#ifndef SERVICES_RECIPROCAL_STATEMENT_PDF_H
#define SERVICES_RECIPROCAL_STATEMENT_PDF_H

#include <jansson.h>
#include <stddef.h>

/* doc: the statement document (statement_doc with lines); clubs: {club id: club object with
 * name and address} (a missing club prints its id). Returns the malloc'd NUL-terminated PDF and
 * its length in *len, or NULL. */
char *stmt_pdf(const json_t *doc, const json_t *clubs, size_t *len);

#endif
