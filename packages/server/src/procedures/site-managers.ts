/**
 * Who manages a site, for the security tickets DMOP raises: the manager configured for the site,
 * else the first enabled user with the manager role, read when the ticket is written (off the
 * path of the tower, which never waits for it).
 */
export interface ManagerSource {
  list(): Promise<readonly { username: string; role: string; disabled: boolean }[]>;
}

export class SiteManagers {
  private fallback: string | undefined;

  constructor(
    private readonly configured: Readonly<Record<string, string>>,
    private readonly users: ManagerSource,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  async managerOf(site: string): Promise<string | undefined> {
    const configured = this.configured[site];
    if (configured !== undefined) return configured;
    await this.refresh();
    return this.fallback;
  }

  async refresh(): Promise<void> {
    try {
      const all = await this.users.list();
      this.fallback = all.filter((u) => u.role === 'manager' && !u.disabled).map((u) => u.username).sort()[0];
    } catch (err) {
      this.onError(err);
    }
  }
}
