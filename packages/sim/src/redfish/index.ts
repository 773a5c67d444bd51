/** The simulated server BMC: its Redfish service and the certificates it presents. */
export {
  startRedfishService, type RedfishService, type RedfishServiceOptions, type RedfishWriteAttempt, type RedfishRequestSeen,
} from './redfish-service.ts';
export {
  createSelfSignedBmcCertificate, createCaIssuedBmcCertificate, type BmcCertificate, type IssuedBmcCertificate, type BmcCertificateOptions,
} from './bmc-certificate.ts';
export { bmcResources, SERVER_VALUE_NAMES } from './bmc-resources.ts';
