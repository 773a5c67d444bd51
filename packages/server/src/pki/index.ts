export { PkiError, type PkiErrorCode } from './pki-error.ts';
export {
  createSiteCa, issueServerCertificate, caPublicKey,
  type SiteCa, type IssuedKeyPair, type CreateSiteCaOptions, type IssueServerCertificateOptions,
} from './site-ca.ts';
export {
  verifyDeviceCsr, signDeviceCertificate, issueDeviceCertificate,
  type VerifiedDeviceCsr, type DeviceCertificatePolicy,
} from './device-certificate.ts';
export { initCaDirectory, loadCa, openCaDirectory, CA_CERT_FILE, CA_KEY_FILE } from './ca-directory.ts';
