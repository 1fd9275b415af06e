import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, credentials, status as GrpcStatus } from '@grpc/grpc-js';
import { encodeTraceRequest } from '../../src/otlp/index.js';
import { bearer, otlpGrpcStatus, otlpHttpStatus } from '../helpers/bearer-clients.js';
import { startTestStore } from '../helpers/store-harness.js';
import { makeTraces } from '../helpers/store-spans.js';

const dir = mkdtempSync(join(tmpdir(), 'sentinel-auth-'));
const tokenFile = join(dir, 'token');
const readerFile = join(dir, 'reader-token');

void describe('store with auth.required: bearer tokens from a rotating file', () => {
  let h: Awaited<ReturnType<typeof startTestStore>>;
  let grpc: Client;
  const body = encodeTraceRequest(makeTraces({ traces: 1, spansPerTrace: 3, seed: 5 }));
  const traceId = '0123456789abcdef0123456789abcdef';

  before(async () => {
    writeFileSync(tokenFile, 'token-one\n');
    writeFileSync(readerFile, 'reader-one\n');
    h = await startTestStore({
      overrides: { auth: { required: true, token_files: [tokenFile], reader_token_files: [readerFile] } },
    });
    grpc = new Client(`127.0.0.1:${h.store.ports.grpc}`, credentials.createInsecure());
  });
  after(async () => {
    grpc.close();
    await h.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  const header = bearer;

  const httpStatus = (token: string | undefined) => otlpHttpStatus(h.store.ports.http, body, token);
  const grpcStatus = (token: string | undefined) => otlpGrpcStatus(grpc, body, token);

  async function queryStatus(token: string | undefined): Promise<number> {
    return (await h.query(`/api/traces/${traceId}`, header(token))).status;
  }

  /** Every transport's answer for one token. */
  async function all(token: string | undefined) {
    return { grpc: await grpcStatus(token), http: await httpStatus(token), query: await queryStatus(token) };
  }
  const refused = { grpc: GrpcStatus.UNAUTHENTICATED, http: 401, query: 401 };
  // Static tokens are agent identities (issue 14): they ingest but do not read traces.
  const accepted = { grpc: GrpcStatus.OK, http: 200, query: 403 };

  void test('no token and a wrong token are refused on OTLP/gRPC, OTLP/HTTP and the query API', async () => {
    assert.deepEqual(await all(undefined), refused);
    assert.deepEqual(await all('token-two'), refused);
    assert.deepEqual(await all('token-on'), refused); // a prefix of the valid token
  });

  void test('the valid token is accepted for ingest, the reader token for queries, and /health needs none', async () => {
    assert.deepEqual(await all('token-one'), accepted);
    assert.equal(await queryStatus('reader-one'), 404);
    assert.equal((await h.query('/health')).status, 200);
  });

  void test('after the file is rotated, the old token is refused and the new one accepted, without a restart', async () => {
    writeFileSync(tokenFile, 'token-two\n');
    const deadline = Date.now() + 5000;
    while ((await httpStatus('token-one')) !== 401 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(await all('token-one'), refused);
    assert.deepEqual(await all('token-two'), accepted);
    writeFileSync(readerFile, 'reader-two\n');
    while ((await queryStatus('reader-one')) !== 401 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    assert.equal(await queryStatus('reader-one'), 401);
    assert.equal(await queryStatus('reader-two'), 404);
    assert.ok((await h.metrics.value('receiver_refused_requests_total', { reason: 'unauthenticated' })) > 0);
  });
});
