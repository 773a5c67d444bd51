/**
 * The certificate ledger's answers: may this device connect with this certificate (every broker
 * CONNECT and every TUF read with a client certificate), and which certificates does the CRL list.
 */
import { normaliseSerial, type CertificateIssuer } from './certificate-issuer.ts';
import type { CertificateStore } from './certificate-store.ts';
import type { ClaimRecord } from './fleet-types.ts';

export interface CertificateLedgerOptions {
  certificates: CertificateStore;
  /** The claim of a device (ClaimsAndGroups.getClaim). */
  claimOf: (deviceId: string) => Promise<ClaimRecord | undefined>;
  issuer: Pick<CertificateIssuer, 'generateCrls'>;
  now: () => number;
}

export class CertificateLedger {
  constructor(private readonly options: CertificateLedgerOptions) {}

  /**
   * The broker's question on every CONNECT (after the TLS chain and the operational policy
   * checked out): is this device claimed and in good standing, and is this certificate one we
   * issued to it, unexpired and not revoked? Read from the store every time, no cache: a revoke or
   * quarantine through any replica refuses the device at the next CONNECT everywhere.
   */
  async isDeviceAllowed(deviceId: string, certSerial: string): Promise<boolean> {
    const [claim, cert] = await Promise.all([
      this.options.claimOf(deviceId),
      this.options.certificates.get(normaliseSerial(certSerial)),
    ]);
    if (claim?.state !== 'claimed') return false;
    return cert !== undefined && cert.deviceId === deviceId && cert.revokedAt === undefined && cert.notAfter > this.options.now();
  }

  /** One CRL (PEM) per issuing CA, listing revoked certificates that have not yet expired. */
  async crls(): Promise<string[]> {
    return this.options.issuer.generateCrls(await this.options.certificates.revokedUnexpired(this.options.now()));
  }
}
