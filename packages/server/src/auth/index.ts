export {
  ApiTokens, ensureAdminToken, AuthError,
  type AuthErrorCode, type TokenPrincipal, type TokenInfo, type CreatedToken, type ApiTokensOptions,
} from './api-tokens.ts';
export { ROLES, isRole, type Role } from './roles.ts';
export { ScryptPasswordHasher, DEFAULT_SCRYPT_COST, type PasswordHasher, type ScryptCost } from './password-hash.ts';
export type { UserStore, UserRecord, UserPatch, LockoutPolicy, SignInAttempt } from './user-store.ts';
export { SqliteUserStore } from './sqlite-user-store.ts';
export {
  UsersService, UserError, USERNAME_PATTERN, MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH,
  type UserErrorCode, type UserView, type SignInResult, type UsersServiceOptions,
} from './users.ts';
export type { SessionStore, SessionRecord } from './session-store.ts';
export { SqliteSessionStore } from './sqlite-session-store.ts';
export {
  SessionService, type ActiveSession, type CreatedSession, type SessionPolicy, type SessionUser, type SessionServiceOptions,
} from './sessions.ts';
