import { z } from 'zod';
import { parseDurationMs, parseEndpoint, parseSizeBytes } from './units.js';

/** A duration string ("10s") parsed to milliseconds. */
export const duration = (): z.ZodType<number, string | number> =>
  z.union([z.string(), z.number()]).transform((value, ctx) => {
    const ms = typeof value === 'number' ? value : parseDurationMs(value);
    if (ms === undefined || !Number.isFinite(ms) || ms < 0) {
      ctx.addIssue({
        code: 'custom',
        message: `expected a duration like "10s", got ${JSON.stringify(value)}`,
      });
      return z.NEVER;
    }
    return ms;
  });

/** A size (bytes, or a string like "64MiB") parsed to bytes. */
export const size = (): z.ZodType<number, string | number> =>
  z.union([z.string(), z.number()]).transform((value, ctx) => {
    const bytes = parseSizeBytes(value);
    if (bytes === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `expected a size like 4096 or "64MiB", got ${JSON.stringify(value)}`,
      });
      return z.NEVER;
    }
    return bytes;
  });

/** A "host:port" listen or connect address. */
export const endpoint = (): z.ZodType<string, string> =>
  z.string().superRefine((value, ctx) => {
    if (!parseEndpoint(value)) {
      ctx.addIssue({ code: 'custom', message: `expected "host:port", got ${JSON.stringify(value)}` });
    }
  });

/** Query URLs of store replicas (`http://host:3200` or `https://...`); `example` goes into the error. */
export const replicaUrls = (example: string) =>
  z
    .array(
      z.url({
        protocol: /^https?$/,
        error: `expected an http(s) URL of a store replica, such as ${example}`,
      }),
    )
    .default([]);

/** How a client of the store's query port checks the store's certificate. */
export const storeClientTls = () =>
  z
    .strictObject({
      ca_file: z.string().default(''),
      insecure_skip_verify: z.boolean().default(false),
    })
    .prefault({});
