import type { ApiErrorCode } from '../api-error.ts';

/** The edge's own codes (ApiError): raised by the routes themselves, not by a domain. */
export const apiHttpStatus: Record<ApiErrorCode, number> = {
  unauthorized: 401,
  bad_request: 400,
  not_found: 404,
  asset_ambiguous: 409,
  internal: 500,
};
