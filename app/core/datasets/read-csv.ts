// CSV and TSV through csv-parse, streamed. The first record is the header. Rows are numbered
// as a spreadsheet shows them: header = row 1, blank lines count, and a quoted field spanning
// several lines is still one row.
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { CsvError, parse } from "csv-parse";

import type { DatasetFormat } from "../store/types.ts";
import { DatasetError, fail, type ProblemCollector, rowNumbering } from "./errors.ts";
import { utf8Text } from "./source.ts";
import { type Cell, headerNames, setCell, type TableRecord, type TableScan } from "./table.ts";

interface ParsedRecord {
  record: string[];
  info: { records: number; empty_lines: number; lines: number };
}

const fieldWord = (n: number) => `${n} field${n === 1 ? "" : "s"}`;

export function csvTable(path: string, format: DatasetFormat, delimiter: string, batchSize: number): TableScan {
  const columns: string[] = [];
  const sep = delimiter === "\t" ? "a tab" : `"${delimiter}"`;
  const note = rowNumbering(format);

  async function* batches(problems: ProblemCollector): AsyncGenerator<TableRecord[]> {
    const parser = parse({
      delimiter,
      info: true,
      skip_empty_lines: true,
      // Field counts are checked below so every bad row is reported, not just the first.
      relax_column_count: true,
      // A stray quote inside an unquoted field (5" screen) is kept as text.
      relax_quotes: true,
    });
    // Read errors (bad UTF-8) reach us through the parser, which pipeline destroys with them.
    pipeline(Readable.from(utf8Text(path)), parser).catch(() => {});

    let header: string[] | undefined;
    let dataRows = 0;
    let batch: TableRecord[] = [];
    try {
      for await (const { record, info } of parser as AsyncIterable<ParsedRecord>) {
        const row = info.records + info.empty_lines;
        if (!header) {
          const { names, problems: headerProblems } = headerNames(record, row);
          if (headerProblems.length > 0) throw new DatasetError(path, headerProblems, 0, note);
          header = names;
          columns.push(...names);
          continue;
        }
        dataRows++;
        if (record.length !== header.length) {
          problems.add({
            row,
            message:
              record.length > header.length
                ? `Row ${row} has ${fieldWord(record.length)}, but the header has ${header.length} columns. Put double quotes around any field that contains ${sep} (the separator), or remove the extra fields.`
                : `Row ${row} has ${fieldWord(record.length)}, but the header has ${header.length} columns. Add the missing fields (leave a field empty if the value is unknown).`,
          });
          continue;
        }
        const values: Record<string, Cell> = {};
        for (let i = 0; i < header.length; i++) {
          const v = record[i] as string;
          setCell(values, header[i] as string, v === "" ? null : v);
        }
        batch.push({ row, values });
        if (batch.length >= batchSize) {
          yield batch;
          batch = [];
        }
      }
    } catch (err) {
      if (err instanceof CsvError) {
        const ctx = err as CsvError & { records?: number; empty_lines?: number; lines?: number };
        const row = (ctx.records ?? 0) + (ctx.empty_lines ?? 0) + 1;
        problems.fatal(
          {
            row,
            message:
              err.code === "CSV_QUOTE_NOT_CLOSED"
                ? `Row ${row}: a field opens a double quote that is never closed (the file ends on line ${ctx.lines} still inside it). Close the quote, or double a quote that belongs to the text ("").`
                : `Row ${row} is not valid ${format.toUpperCase()}: ${err.message}.`,
          },
          note,
        );
      }
      throw err;
    } finally {
      parser.destroy();
    }
    if (batch.length > 0) yield batch;
    if (!header) fail(path, "The file contains only blank lines.");
    if (dataRows === 0) fail(path, "The file has a header row but no data rows.");
  }

  return { path, format, columns, batches };
}
