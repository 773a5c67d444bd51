/**
 * Errors the HTTP edge raises itself, and the body of every error response. Domain errors keep
 * their own codes; http-status/ gives each code its HTTP status (STYLE.md §5).
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

/** The body every error response has: `{ error: { code, message } }`. */
export interface ErrorBody {
  error: { code: string; message: string };
}

export function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } };
}
