import { z } from 'zod';
import { duration, endpoint, size } from './schema-types.js';

/** `receivers.otlp` as both agent and store read it (CONTRACT.md). */
export const otlpReceiversSchema = (defaults: { host: string; maxRequestBytes: string }) =>
  z
    .strictObject({
      otlp: z
        .strictObject({
          grpc: z.strictObject({ endpoint: endpoint().default(`${defaults.host}:4317`) }).prefault({}),
          http: z
            .strictObject({
              endpoint: endpoint().default(`${defaults.host}:4318`),
              /** CORS is off unless origins are listed (the Collector's `cors.allowed_origins`). */
              cors: z
                .strictObject({
                  allowed_origins: z.array(z.string()).default([]),
                  allowed_headers: z.array(z.string()).default([]),
                  max_age: z.number().int().nonnegative().default(7200),
                })
                .prefault({}),
            })
            .prefault({}),
          max_request_bytes: size().prefault(defaults.maxRequestBytes),
        })
        .prefault({}),
    })
    .prefault({});

export const adminSchema = () =>
  z.strictObject({ endpoint: endpoint().default('0.0.0.0:8888') }).prefault({});

export const logSchema = () =>
  z
    .strictObject({
      level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    })
    .prefault({});

export const shutdownTimeout = () => duration().prefault('20s');
