import type { ConfigurationOptions } from '@kubernetes/client-node';

/**
 * Per-request options for @kubernetes/client-node's object-parameter API that give each request its own abort
 * deadline. That API takes Observable-style middleware: an object whose toPromise() yields the request context.
 */
export function kubeRequestDeadline(timeoutMs: number): ConfigurationOptions {
  return {
    middleware: [
      {
        pre: (ctx: { setSignal(s: AbortSignal): void }) => ({
          toPromise: async () => {
            ctx.setSignal(AbortSignal.timeout(timeoutMs));
            return ctx;
          },
        }),
        post: (res: unknown) => ({ toPromise: async () => res }),
      },
    ],
    middlewareMergeStrategy: 'append',
  } as unknown as ConfigurationOptions;
}
