/**
 * The TLS server name (SNI) to send for `host` when the TLS library's own choice is wrong, else undefined: for an
 * absolute DNS name (`store.ns.svc.cluster.local.`, a trailing dot so that the resolver skips the pod's search
 * list under Kubernetes' ndots:5), the name without the dot. Node's `tls.connect` and grpc-js send the host as it
 * is, and RFC 6066 section 3 says the SNI host name has no trailing dot (Go's TLS servers refuse one). Node's
 * `checkServerIdentity` ignores the dot either way.
 */
export function tlsServerNameFor(host: string): string | undefined {
  return host.length > 1 && host.endsWith('.') ? host.slice(0, -1) : undefined;
}
