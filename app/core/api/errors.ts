// Errors every transport reports alike: a status (400 bad input, 404 unknown thing, 500 our
// fault), a message for the user, and for bad input the fields or rows at fault.
import type { DatasetProblem } from "../datasets/errors.ts";

export interface Issue {
  /** Dotted path of the field, e.g. "mapping.label" ("" for the input itself). */
  path: string;
  message: string;
}

export type ApiStatus = 400 | 404 | 500;

export interface ApiErrorBody {
  error: string;
  issues?: Issue[];
  problems?: DatasetProblem[];
}

export class ApiError extends Error {
  override readonly name = "ApiError";

  constructor(
    readonly status: ApiStatus,
    message: string,
    readonly details: { issues?: Issue[]; problems?: DatasetProblem[] } = {},
  ) {
    super(message);
  }

  get body(): ApiErrorBody {
    return { error: this.message, ...this.details };
  }
}

export const badRequest = (message: string): ApiError => new ApiError(400, message);
export const notFound = (message: string): ApiError => new ApiError(404, message);
