/** The certificate ledger: every operational certificate issued, and which were revoked (the CRL's input). */
import type { IssuedCertificate } from './fleet-types.ts';

export interface CertificateStore {
  /** Records a new certificate, unrevoked. The serial is normalised (certificate-issuer.ts normaliseSerial). */
  record(certificate: Omit<IssuedCertificate, 'revokedAt'>): Promise<void>;
  get(serial: string): Promise<IssuedCertificate | undefined>;
  /** Revokes one certificate; false when it is unknown or already revoked. */
  revoke(serial: string, at: number): Promise<boolean>;
  /** Revokes every unrevoked certificate of a device; how many. */
  revokeAllOf(deviceId: string, at: number): Promise<number>;
  /** Revoked certificates that have not expired at `now` (expired ones need no CRL entry), by serial. */
  revokedUnexpired(now: number): Promise<{ serial: string; revokedAt: number }[]>;
}
