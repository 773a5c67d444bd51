import type { UserErrorCode } from '../../auth/users.ts';

/** People's accounts (UserError). */
export const userHttpStatus: Record<UserErrorCode, number> = {
  user_invalid_username: 400,
  user_weak_password: 400,
  user_invalid_role: 400,
  user_exists: 409,
  user_not_found: 404,
};
