/** The external broker (Mosquitto 2.0): the Broker adapter, its configuration and a process helper for tests and scale-out scripts. */
export { startMosquittoBroker, type ManagedBroker, type MosquittoBrokerOptions } from './mosquitto-broker.ts';
export { generateMosquittoConfig, initialDynamicSecurityConfig, DEBIAN_DYNAMIC_SECURITY_PLUGIN, type MosquittoConfigOptions, type MosquittoFiles } from './mosquitto-config.ts';
export { startMosquitto, freeLoopbackPort, DEBIAN_MOSQUITTO, type MosquittoProcess, type StartMosquittoOptions } from './mosquitto-process.ts';
export { issueBrokerClientCertificate, type BrokerClientCertificate } from './server-client-certificate.ts';
export { BrokerTrustFiles, reloadByPidFile } from './crl-writer.ts';
export { DeviceAccess, type DeviceStanding } from './dynamic-security.ts';
export { ExternalBrokerError, type ExternalBrokerErrorCode } from './external-broker-error.ts';
export type { ExternalBrokerConfig } from './external-broker-config.ts';
