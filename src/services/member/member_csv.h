/* member_csv: CSV import (dry run with per-row errors by line and column; all-or-nothing
 * import in one transaction with set-based inserts) and CSV export of a filtered member list.
 * Owns the CSV dialect (RFC 4180, header row, UTF-8) and its column list (docs/member.md). */
#ifndef SERVICES_MEMBER_CSV_H
#define SERVICES_MEMBER_CSV_H

#include "core/service.h"

int member_csv_validate_import(json_t *in, err_t *e);
int member_csv_validate_export(json_t *in, err_t *e);
int member_csv_import(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int member_csv_export(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

/* 1 when an exported cell could start a spreadsheet formula (docs/security.md D1): it begins
 * with = + - @ (or their full-width forms), after optional spaces, or with a tab, CR or LF, and
 * is not entirely a number ("-12", "+3.5e2") or an E.164 phone number ("+447700900123"). Such a
 * cell is exported quoted with a leading apostrophe ("'=1+1"). */
int member_csv_formula_risky(const char *v);

/* Parses CSV text into an array of records (arrays of strings); line_of[i] (malloc'd, caller
 * frees) is the 1-based line where record i starts. Returns NULL + err on malformed input. */
json_t *member_csv_parse(const char *text, size_t len, int **line_of, err_t *e);

#endif
