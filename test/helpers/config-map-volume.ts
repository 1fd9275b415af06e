import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A ConfigMap volume as the kubelet mounts one: dir/policy.yaml -> ..data/policy.yaml, ..data -> ..<version>,
 * swapped atomically to a new version directory on every update.
 */
export class ConfigMapVolume {
  readonly dir = mkdtempSync(join(tmpdir(), 'sentinel-policy-'));
  private version = 0;
  constructor(text: string) {
    this.update(text);
    symlinkSync(join('..data', 'policy.yaml'), this.file);
  }
  get file(): string {
    return join(this.dir, 'policy.yaml');
  }
  /** What the kubelet does: write a new version directory, then swap ..data to it atomically. */
  update(text: string): void {
    const name = `..2026_11_24_00_00_${String(++this.version).padStart(2, '0')}`;
    mkdirSync(join(this.dir, name));
    writeFileSync(join(this.dir, name, 'policy.yaml'), text);
    const tmp = join(this.dir, '..data_tmp');
    symlinkSync(name, tmp);
    renameSync(tmp, join(this.dir, '..data'));
  }
  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
