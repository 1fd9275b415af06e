// Types for scripts/build.mjs, read by the tests that run the bundle (test/helpers/bundle.ts).
export interface Metafile {
  inputs: Record<
    string,
    { bytes: number; imports: Array<{ path: string; kind: string; external?: boolean }> }
  >;
  outputs: Record<
    string,
    {
      bytes: number;
      inputs: Record<string, { bytesInOutput: number }>;
      imports: Array<{ path: string; kind: string; external?: boolean }>;
      exports: string[];
      entryPoint?: string;
    }
  >;
}
export declare const ENTRY_POINTS: Readonly<Record<string, string>>;
export declare function buildDist(
  outdir?: string,
  options?: { metafile?: boolean },
): Promise<Metafile | undefined>;
