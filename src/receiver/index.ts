export { OtlpReceivers, receiversFromConfig } from './otlp-receivers.js';
export { FileTls } from './tls.js';
export type { ReceiverTls } from './tls.js';
export type { AuthVerdict, ReceiverAuthorize } from './authorize.js';
export { estimateProtobufRequest } from './admission-estimate.js';
