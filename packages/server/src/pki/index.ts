export { PkiError, type PkiErrorCode } from './pki-error.ts';
export {
  createSiteCa, createIssuingCa, issueServerCertificate, caPublicKey,
  type SiteCa, type IssuedKeyPair, type CreateSiteCaOptions, type CreateIssuingCaOptions, type IssueServerCertificateOptions,
} from './site-ca.ts';
export {
  verifyDeviceCsr, signDeviceCertificate, issueDeviceCertificate,
  type VerifiedDeviceCsr, type DeviceCertificatePolicy,
} from './device-certificate.ts';
export { initCaDirectory, loadCa, CA_CERT_FILE, CA_KEY_FILE } from './ca-directory.ts';
export { OPERATIONAL_POLICY_OID, certificatePolicies, hasOperationalPolicy, policyOidsOf } from './operational-policy.ts';
export { createCrl, type RevokedCertificate, type CrlOptions } from './certificate-revocation-list.ts';
export {
  initPki, openPki, ROOT_CERT_FILE, ROOT_KEY_FILE, ISSUING_DIR,
  type Pki, type InitPkiOptions, type OpenPkiOptions, type DeviceKey, type SignCertificateOptions, type SignedCertificate,
  type ServerCertificate, type Instant,
} from './site-pki.ts';
export { loadApiCertificate, type ApiCertificate, type ApiCertificateFiles, type LoadApiCertificateOptions } from './api-certificate.ts';
export { spkiSha256Base64, sha256Fingerprint } from './certificate-pins.ts';
