export { Enricher } from './enricher.js';
export { kubeRequestDeadline } from './kube-request-deadline.js';
