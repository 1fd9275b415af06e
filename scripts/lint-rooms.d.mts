// Types for scripts/lint-rooms.mjs, read by test/lint-boundaries.test.ts.
export declare const SHARED: readonly string[];
export declare const DATA_PATH: readonly string[];
export declare const ALLOWED: Readonly<Record<string, readonly string[]>>;
export declare const EXTRA_DOORS: Readonly<Record<string, Readonly<Record<string, string>>>>;
export declare const EXCEPTIONS: Readonly<Record<string, string>>;
export declare function roomOf(file: string): string | undefined;
export declare function relSrc(file: string): string;
export declare function checkImport(file: string, specifier: string): string | undefined;
export declare function ruleMessage(file: string, specifier: string): string | undefined;
export declare const roomsPlugin: unknown;
