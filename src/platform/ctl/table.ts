import { printable } from './printable.js';

/** A column of a table: its heading and how a row shows in it. */
export interface Column<Row> {
  heading: string;
  cell: (row: Row) => string;
}

/**
 * Rows as a table for people: a heading line, then one line per row, columns left-aligned and separated by
 * two spaces, no trailing spaces. Cells are made printable (no control characters).
 */
export function formatTable<Row>(columns: readonly Column<Row>[], rows: readonly Row[]): string[] {
  const cells = [
    columns.map((c) => c.heading),
    ...rows.map((row) => columns.map((c) => printable(c.cell(row)))),
  ];
  const widths = columns.map((_, i) => Math.max(...cells.map((line) => line[i]?.length ?? 0)));
  return cells.map((line) =>
    line
      .map((cell, i) => (i === line.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

/** Seconds as H:MM:SS (`0:01:05`); a negative or missing value as `-`. */
export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '-';
  const s = Math.floor(seconds);
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  return `${hours}:${String(minutes).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}
