/**
 * Issue 18 part 3, unit level: the WAL acknowledges only what is on disk whole. Short writes are continued,
 * a failed append's torn tail is cut back to the last whole record before anything else is written, the file
 * is never extended with zeros, and replay returns every acknowledged record, none twice.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isSentinelError } from '../src/errors.js';
import { WriteAheadLog, type WalFile } from '../src/store/write-ahead-log.js';
import { silentLogger } from '../src/telemetry/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'sentinel-wal-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(tmp, String(n++));
const decode = (p: Uint8Array) => ({ item: Buffer.from(p).toString(), spans: 1 });

/** What the injected file is told to do on its next writev calls, in order; then it behaves normally. */
type Step = 'half' | 'enospc' | 'zero';

/** A real file whose writev follows `steps`, and whose truncate calls are recorded with the size then. */
function faultyFiles(steps: Step[], truncateFailures = 0) {
  const truncates: { len: number; size: number }[] = [];
  let failTruncate = truncateFailures;
  const openFile = async (path: string): Promise<WalFile> => {
    const fh = await open(path, 'w');
    return {
      writev: async (buffers, position) => {
        const step = steps.shift();
        if (step === 'enospc')
          throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
        if (step === 'zero') return { bytesWritten: 0 };
        if (step === 'half') {
          // Write the first half of what was asked, as writev(2) does when the disk fills in the middle.
          const all = Buffer.concat(buffers);
          return fh.write(all, 0, Math.floor(all.length / 2), position);
        }
        return fh.writev(buffers, position);
      },
      datasync: () => fh.datasync(),
      stat: () => fh.stat(),
      truncate: async (len) => {
        const { size } = await fh.stat();
        truncates.push({ len, size });
        if (failTruncate-- > 0) throw Object.assign(new Error('EIO: i/o error, ftruncate'), { code: 'EIO' });
        return fh.truncate(len);
      },
      close: () => fh.close(),
    };
  };
  return { openFile, truncates };
}

async function openWal(dir: string, openFile: (path: string) => Promise<WalFile>) {
  return (await WriteAheadLog.open({ dir, maxBytes: 1 << 20, logger: silentLogger(), decode, openFile })).wal;
}

function segmentBytes(dir: string): Buffer {
  const names = readdirSync(dir).filter((f) => f.endsWith('.wal'));
  assert.equal(names.length, 1);
  return readFileSync(join(dir, names[0]!));
}

async function replay(dir: string): Promise<string[]> {
  const { wal, replayed } = await WriteAheadLog.open({
    dir,
    maxBytes: 1 << 20,
    logger: silentLogger(),
    decode,
  });
  await wal.close();
  return replayed.flatMap((s) => s.items);
}

describe('write-ahead log: short writes and failed appends', () => {
  it('continues a short write and acknowledges the record only when it is whole', async () => {
    const dir = freshDir();
    const { openFile } = faultyFiles(['half', 'half']);
    const wal = await openWal(dir, openFile);
    await wal.append(Buffer.from('a'.repeat(1000)), 'a'.repeat(1000), 1);
    await wal.append(Buffer.from('b'.repeat(10)), 'b'.repeat(10), 1);
    assert.equal(segmentBytes(dir).length, 2 * 8 + 1010);
    assert.deepEqual(await replay(dir), ['a'.repeat(1000), 'b'.repeat(10)]);
  });

  it('refuses an append whose write stops half-way (disk full), cuts the torn tail, and goes on', async () => {
    const dir = freshDir();
    const { openFile, truncates } = faultyFiles([undefined as never, 'half', 'enospc']);
    const wal = await openWal(dir, openFile);
    await wal.append(Buffer.from('first'), 'first', 1);
    await assert.rejects(wal.append(Buffer.from('x'.repeat(5000)), 'lost', 1), (err: unknown) => {
      assert.ok(isSentinelError(err, 'SENTINEL_ERR_STORAGE'));
      assert.match(err.message, /ENOSPC/);
      return true;
    });
    assert.equal(segmentBytes(dir).length, 8 + 5, 'the torn tail is gone');
    await wal.append(Buffer.from('after'), 'after', 1);
    assert.equal(wal.bytes, 2 * 8 + 10);
    assert.ok(
      truncates.every((t) => t.len <= t.size),
      'truncate never extends the file',
    );
    assert.deepEqual(await replay(dir), ['first', 'after']);
  });

  it('treats a write that makes no progress as a failure, not an acknowledgement', async () => {
    const dir = freshDir();
    const { openFile } = faultyFiles(['half', 'zero']);
    const wal = await openWal(dir, openFile);
    await assert.rejects(wal.append(Buffer.from('y'.repeat(300)), 'lost', 1), /short write/);
    await wal.append(Buffer.from('kept'), 'kept', 1);
    assert.deepEqual(await replay(dir), ['kept']);
  });

  it('when the cut itself fails, cuts before the next write, never extending the file with zeros', async () => {
    const dir = freshDir();
    const { openFile, truncates } = faultyFiles([undefined as never, 'half', 'enospc'], 1);
    const wal = await openWal(dir, openFile);
    await wal.append(Buffer.from('one'), 'one', 1);
    await assert.rejects(wal.append(Buffer.from('z'.repeat(4000)), 'lost', 1));
    assert.ok(segmentBytes(dir).length > 8 + 3, 'the failed cut left the torn tail');
    await wal.append(Buffer.from('two'), 'two', 1);
    const bytes = segmentBytes(dir);
    assert.equal(bytes.length, 2 * 8 + 6);
    assert.equal(bytes.subarray(11, 19).readUInt32LE(0), 3, 'the next record follows the last whole one');
    assert.ok(truncates.length >= 2 && truncates.every((t) => t.len <= t.size));
    // A second failure after a rotation-free run, then a seal: the sealed segment ends at a whole record.
    const sealed = await wal.rotate();
    assert.equal(sealed?.bytes, 2 * 8 + 6);
    await wal.close();
    assert.deepEqual(await replay(dir), ['one', 'two']);
  });
});
