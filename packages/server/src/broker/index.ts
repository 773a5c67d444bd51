export {
  startBroker,
  type Broker, type BrokerOptions, type BrokerTlsOptions, type BrokerStats,
} from './broker.ts';
export { BrokerError, type BrokerErrorCode } from './broker-error.ts';
export { peerIdentity, type PeerIdentity } from './peer-identity.ts';
