export { buildApi, API_PREFIX, OPENAPI_PATH, type BuildApiOptions } from './build-api.ts';
export { ApiError, type ApiErrorCode, type ErrorBody } from './api-error.ts';
export { httpStatusOf } from './http-status/domain-http-status.ts';
export { parseBucket } from './time-query.ts';
export { DEFAULT_ATTESTATION_RATE_LIMIT, type RateLimit } from './client-rate-limiter.ts';
export type { FleetApi } from './fleet-api.ts';
export { alarmRoutes, ALARM_OPERATOR_ROLES, type AlarmsApi, type AlarmRoutesOptions } from './alarm-routes.ts';
