import type { AuthErrorCode } from '../../auth/api-tokens.ts';

/** API token administration (AuthError). */
export const authHttpStatus: Record<AuthErrorCode, number> = {
  auth_bad_role: 400,
  auth_bad_name: 400,
};
