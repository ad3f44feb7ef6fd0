// Parquet through hyparquet, one row group at a time: the reader never holds more than one
// row group's rows (files written by pandas/pyarrow use row groups of up to ~1M rows; smaller
// groups mean less memory). Rows are numbered from 1.
import {
  asyncBufferFromFile,
  type FileMetaData,
  parquetMetadataAsync,
  parquetReadObjects,
  parquetSchema,
} from "hyparquet";
import { compressors } from "hyparquet-compressors";

import { DatasetError, fail, type ProblemCollector, rowNumbering } from "./errors.ts";
import { type Cell, headerNames, setCell, type TableRecord, type TableScan, toCell } from "./table.ts";

const REEXPORT = "The file may be damaged or truncated, or not Parquet at all; export it again.";

export async function parquetTable(path: string, batchSize: number): Promise<TableScan> {
  const file = await asyncBufferFromFile(path);
  let metadata: FileMetaData;
  let names: string[];
  try {
    metadata = await parquetMetadataAsync(file);
    names = parquetSchema(metadata).children.map((c) => c.element.name);
  } catch (err) {
    fail(path, `The file cannot be read as Parquet (${(err as Error).message}). ${REEXPORT}`);
  }
  const header = headerNames(names);
  if (header.problems.length > 0) throw new DatasetError(path, header.problems);
  const columns = [...names];

  async function* batches(_problems: ProblemCollector): AsyncGenerator<TableRecord[]> {
    let start = 0;
    for (const group of metadata.row_groups) {
      const end = start + Number(group.num_rows);
      let rows: Record<string, unknown>[];
      try {
        rows = await parquetReadObjects({ file, metadata, rowStart: start, rowEnd: end, compressors });
      } catch (err) {
        throw new DatasetError(
          path,
          [
            {
              row: start + 1,
              message: `Rows ${start + 1}–${end} cannot be decoded (${(err as Error).message}). ${REEXPORT}`,
            },
          ],
          0,
          rowNumbering("parquet"),
        );
      }
      for (let i = 0; i < rows.length; i += batchSize) {
        yield rows.slice(i, i + batchSize).map((r, j) => {
          const values: Record<string, Cell> = {};
          for (const name of columns) setCell(values, name, toCell(Object.hasOwn(r, name) ? r[name] : null));
          return { row: start + i + j + 1, values };
        });
      }
      start = end;
    }
    if (start === 0) fail(path, "The Parquet file has no rows.");
  }

  return { path, format: "parquet", columns, batches };
}
