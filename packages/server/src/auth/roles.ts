/** The roles people act through (ARCHITECTURE.md §2). What each may do is decided per route. */
export const ROLES = ['admin', 'engineer', 'technician', 'manager', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}
