/**
 * The fields of a Postgres error in an SQL-over-HTTP error answer (status 400), as Neon sends them
 * and the driver copies them onto its error: written by the local endpoint (src/local/http-sql.ts)
 * and read by the session create's own request (sql-over-http.ts).
 */
export const HTTP_ERROR_FIELDS = [
  "severity", "code", "detail", "hint", "position", "internalPosition", "internalQuery", "where",
  "schema", "table", "column", "dataType", "constraint", "file", "line", "routine",
] as const;
