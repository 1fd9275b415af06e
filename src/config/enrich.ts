import { z } from 'zod';

/** `enrich:` of the agent config: where the pod's identity comes from (issue 3 fills this in). */
export const enrichSchema = () =>
  z
    .strictObject({
      podinfo_dir: z.string().default('/etc/podinfo'),
      override: z.boolean().default(false),
      cluster_name: z.string().default(''),
      kubernetes_api: z.strictObject({ enabled: z.boolean().default(false) }).prefault({}),
      variant: z.strictObject({ rules: z.array(z.unknown()).optional() }).prefault({}),
    })
    .prefault({});
