/**
 * A stand-in for the Kubernetes API server's TokenReview endpoint (no API server can run here), over real HTTPS,
 * in the shapes `authentication.k8s.io/v1` documents: `POST /apis/authentication.k8s.io/v1/tokenreviews` with a
 * TokenReview, answered with the same object and its `status`. A kubeconfig file points @kubernetes/client-node at it.
 */
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { makeCertificate } from '../fixtures/injector/tls.js';

export interface KnownToken {
  readonly username: string;
  /** The audiences the token was issued for (its `aud`). */
  readonly audiences: readonly string[];
  /** Answer `authenticated: true` with no `status.audiences`, as an authenticator unaware of audiences does. */
  readonly audienceUnaware?: boolean;
}

export interface FakeTokenReview {
  readonly kubeconfig: string;
  /** The tokens the "API server" knows. */
  readonly tokens: Map<string, KnownToken>;
  /** Reviews asked for each token. */
  readonly calls: Map<string, number>;
  /** The bearer tokens the store authenticated itself with. */
  readonly callers: string[];
  /** When set, every review is answered with this HTTP status (the API failing). */
  failWith: number | undefined;
  close(): Promise<void>;
}

/** The TokenReview path of the API server. */
export const TOKEN_REVIEW_PATH = '/apis/authentication.k8s.io/v1/tokenreviews';

/** Starts the endpoint on 127.0.0.1 and writes a kubeconfig (CA, server, the store's own token) into `dir`. */
export async function startFakeTokenReview(
  dir: string,
  storeToken = 'store-sa-token',
): Promise<FakeTokenReview> {
  const cert = makeCertificate('kube-apiserver', dir);
  const tokens = new Map<string, KnownToken>();
  const calls = new Map<string, number>();
  const callers: string[] = [];
  const state: { failWith: number | undefined } = { failWith: undefined };
  const server: Server = createServer({ cert: cert.cert, key: cert.key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url?.split('?')[0] !== TOKEN_REVIEW_PATH) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"kind":"Status","code":404}');
        return;
      }
      callers.push(String(req.headers.authorization ?? ''));
      const review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        apiVersion: string;
        kind: string;
        spec: { token: string; audiences?: string[] };
      };
      const token = review.spec.token;
      calls.set(token, (calls.get(token) ?? 0) + 1);
      if (state.failWith !== undefined) {
        res
          .writeHead(state.failWith, { 'content-type': 'application/json' })
          .end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: state.failWith }));
        return;
      }
      const known = tokens.get(token);
      const wanted = review.spec.audiences ?? [];
      const common = known ? known.audiences.filter((a) => wanted.length === 0 || wanted.includes(a)) : [];
      const status = !known
        ? { authenticated: false, error: 'invalid bearer token' }
        : known.audienceUnaware
          ? { authenticated: true, user: { username: known.username } }
          : common.length === 0
            ? {
                authenticated: false,
                error: `token audiences ${JSON.stringify(known.audiences)} is invalid for the target audiences ${JSON.stringify(wanted)}`,
              }
            : { authenticated: true, audiences: common, user: { username: known.username, groups: [] } };
      res.writeHead(201, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          apiVersion: review.apiVersion,
          kind: review.kind,
          metadata: {},
          spec: review.spec,
          status,
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `- name: test`,
      `  cluster: { server: "https://127.0.0.1:${port}", certificate-authority: "${cert.certFile}" }`,
      'users:',
      `- name: store`,
      `  user: { token: "${storeToken}" }`,
      'contexts:',
      '- name: test',
      '  context: { cluster: test, user: store }',
      'current-context: test',
      '',
    ].join('\n'),
  );
  return {
    kubeconfig,
    tokens,
    calls,
    callers,
    get failWith() {
      return state.failWith;
    },
    set failWith(v: number | undefined) {
      state.failWith = v;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A JWT-shaped token (unsigned: the fake API server decides validity) with `aud` and `exp` claims. */
export function projectedToken(name: string, audience: string, expSeconds: number): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'RS256', kid: 'test' })}.${part({ aud: [audience], exp: expSeconds, sub: `system:serviceaccount:${name}` })}.c2lnbmF0dXJl`;
}
