export {
  GUARDIAN_SWNAME, MeasuredComponents, defaultBundleDirs, digestFile, digestFileSet, digestTrees, guardianPackageVersion,
  measureGuardian, type MeasureGuardianOptions,
} from './measure.ts';
export { BOOT_COUNT_FILE, incrementBootCount, readBootCount, writeFileAtomically } from './boot-counter.ts';
export {
  EnrolmentError, EnrolmentRefused, MAX_ENROLMENT_RESPONSE_BYTES, enrol, httpsJsonPost, splitPemCertificates, verifyIssuedChain,
  type Enrolment, type EnrolmentErrorCode, type EnrolOptions, type JsonPost, type JsonResponse,
} from './enrol.ts';
export {
  CertificateKeeper, OPERATIONAL_CERTIFICATE_FILE, type CertificateKeeperOptions, type HeldCertificate,
} from './certificate-keeper.ts';
