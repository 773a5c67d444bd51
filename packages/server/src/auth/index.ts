export {
  ApiTokens, ensureAdminToken, AuthError,
  type AuthErrorCode, type TokenPrincipal, type TokenInfo, type CreatedToken, type ApiTokensOptions,
} from './api-tokens.ts';
export type { ApiTokenStore, StoredApiToken } from './api-token-store.ts';
export { SqlApiTokenStore } from './sql-api-token-store.ts';
export { USER_MIGRATIONS, SESSION_MIGRATIONS, API_TOKEN_MIGRATIONS } from './auth-schema.ts';
export { ROLES, isRole, type Role } from './roles.ts';
export { ScryptPasswordHasher, DEFAULT_SCRYPT_COST, type PasswordHasher, type ScryptCost } from './password-hash.ts';
export type { UserStore, UserRecord, UserPatch, LockoutPolicy, SignInAttempt } from './user-store.ts';
export { SqlUserStore } from './sql-user-store.ts';
export {
  UsersService, UserError, USERNAME_PATTERN, MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH,
  type UserErrorCode, type UserView, type SignInResult, type UsersServiceOptions,
} from './users.ts';
export type { SessionStore, SessionRecord } from './session-store.ts';
export { SqlSessionStore } from './sql-session-store.ts';
export {
  SessionService, type ActiveSession, type CreatedSession, type SessionPolicy, type SessionUser, type SessionServiceOptions,
} from './sessions.ts';
