export {
  ApiTokens, ensureAdminToken, AuthError,
  type AuthErrorCode, type TokenPrincipal, type TokenInfo, type CreatedToken, type ApiTokensOptions,
} from './api-tokens.ts';
export { ROLES, isRole, type Role } from './roles.ts';
