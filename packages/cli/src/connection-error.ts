/**
 * Why a request never reached the API, in words that say what to do: which root CA to trust and
 * how, or that the port does not speak TLS. Node's own text ("self-signed certificate in
 * certificate chain", "socket hang up", "wrong version number") leaves a person stuck.
 */
import { errorMessage } from '@shellguard/protocol';

export type ConnectionErrorCode =
  /** The server's certificate does not chain to a CA we were told to trust. */
  | 'api_untrusted_certificate'
  /** The certificate chains to a trusted CA but does not name the host in the URL. */
  | 'api_certificate_name_mismatch'
  /** The certificate (or its CA) is outside its validity period. */
  | 'api_certificate_expired'
  /** Something answered on the port, but not in TLS: a plain-HTTP server, or another protocol. */
  | 'api_not_tls'
  /** The server wants a client certificate: the MQTT broker's port, not the API's. */
  | 'api_client_certificate_required'
  /** Nothing answered, or the connection broke. */
  | 'api_unreachable';

export interface ConnectionFailure {
  code: ConnectionErrorCode;
  message: string;
}

/** Node / OpenSSL verification codes meaning "no trusted CA vouches for this certificate". */
const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_SIGNATURE_FAILURE', 'CERT_UNTRUSTED',
]);
const EXPIRED = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);
/** What OpenSSL says when the peer's first bytes are not a TLS record (e.g. an HTTP response). */
const NOT_TLS = /wrong version number|packet length too long|http request|record layer failure|unknown protocol/i;

/**
 * Translates the error of a failed HTTPS request to `origin`. `caFile` is the CA the client was
 * told to trust (--ca or SHELLGUARD_CA), if any.
 */
export function describeConnectionError(err: unknown, origin: string, caFile: string | undefined): ConnectionFailure {
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? '';
  const reason = errorMessage(err);
  if (UNTRUSTED.has(code)) {
    return {
      code: 'api_untrusted_certificate',
      message: caFile
        ? `${origin} presented a certificate that ${caFile} does not vouch for (${reason}): trust the root CA of that server's site, the root.crt in the folder made by \`shellguard ca init\``
        : `${origin} presented a certificate this machine does not trust (${reason}): trust the site's root CA, the root.crt in the folder made by \`shellguard ca init\` (the demo prints its path), with --ca <root.crt> or SHELLGUARD_CA=<root.crt>`,
    };
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return {
      code: 'api_certificate_name_mismatch',
      message: `${origin}: ${reason}; use a host name or address the certificate names (tls.hostnames and tls.ips in server.yaml; the server issues itself a new certificate at every start)`,
    };
  }
  if (EXPIRED.has(code)) {
    return { code: 'api_certificate_expired', message: `${origin} presented a certificate outside its validity period (${reason}): check this machine's clock and the server's` };
  }
  if (code === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' || /certificate required/i.test(reason)) {
    return {
      code: 'api_client_certificate_required',
      message: `${origin} asks for a client certificate: that is the MQTT broker's port (mqtt.port in server.yaml), not the API's (api.port)`,
    };
  }
  if (code === 'EPROTO' || code.startsWith('ERR_SSL_') || NOT_TLS.test(reason)) {
    // OpenSSL's text carries its source file and line; the phrase that matters is enough.
    const why = NOT_TLS.exec(reason)?.[0] ?? reason.replace(/\s+/g, ' ').trim();
    return {
      code: 'api_not_tls',
      message: `${origin} does not answer in TLS (${why}): the Shellguard API is HTTPS only; check the port is the API's (api.port in server.yaml), not the broker's or another service's`,
    };
  }
  return { code: 'api_unreachable', message: `cannot reach ${origin}: ${reason}` };
}
