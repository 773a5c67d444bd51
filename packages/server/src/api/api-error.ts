/**
 * Errors the HTTP edge understands. Domain errors keep their own codes; this is the one place
 * that maps codes to HTTP statuses (STYLE.md §5).
 */
import { ShellguardError } from '@shellguard/protocol';

export type ApiErrorCode =
  | 'unauthorized'
  | 'bad_request'
  | 'not_found'
  /** An asset id names assets in several sites: the caller must say which site. */
  | 'asset_ambiguous'
  | 'internal';

export class ApiError extends ShellguardError<ApiErrorCode> {}

const STATUS_BY_CODE: Record<string, number> = {
  unauthorized: 401,
  bad_request: 400,
  not_found: 404,
  asset_ambiguous: 409,
  internal: 500,
  telemetry_bad_query: 400,
  auth_bad_role: 400,
  auth_bad_name: 400,
  asset_not_found: 404,
  asset_already_bound: 409,
};

/** The HTTP status for an error code; unknown codes are server faults (500). */
export function httpStatusFor(code: string): number {
  return STATUS_BY_CODE[code] ?? 500;
}

/** The body every error response has: `{ error: { code, message } }`. */
export interface ErrorBody {
  error: { code: string; message: string };
}

export function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } };
}
