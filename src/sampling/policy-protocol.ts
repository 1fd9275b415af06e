/**
 * The central policy's wire (issue 14): agents GET the cluster's sampling policy from a store's query port with
 * `If-None-Match`. One definition shared by the agent (central-policy-source.ts) and the store's route
 * (src/store/policy-http.ts imports this file by relative path).
 */

/** Route on the store's query server (`query.endpoint`, port 3200). */
export const POLICY_PATH = '/api/policy';

/** The media type of the policy file's bytes (the same YAML as `sampling.policy_file`). */
export const POLICY_MEDIA_TYPE = 'application/yaml';
