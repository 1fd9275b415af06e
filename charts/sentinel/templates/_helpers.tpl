{{/* Names, labels and the rendered config files shared by the templates. */}}

{{- define "sentinel.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sentinel.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "sentinel.injectorName" -}}{{ include "sentinel.fullname" . | trunc 54 | trimSuffix "-" }}-injector{{- end }}
{{- /*
  At most 52 characters: the StatefulSet's pods get a controller-revision-hash label of <name>-<10 chars>, which
  must fit a 63-character label value; that also leaves room for "-headless".
*/}}
{{- define "sentinel.storeName" -}}{{ include "sentinel.fullname" . | trunc 46 | trimSuffix "-" }}-store{{- end }}
{{- define "sentinel.storeHeadlessName" -}}{{ include "sentinel.storeName" . }}-headless{{- end }}
{{- /* The cluster sampling policy: served by the store (GET /api/policy), snapshotted into pods by the injector. */}}
{{- define "sentinel.policyConfigMapName" -}}{{ include "sentinel.fullname" . | trunc 56 | trimSuffix "-" }}-policy{{- end }}
{{- define "sentinel.storeAuthSecretName" -}}
{{- default (printf "%s-auth" (include "sentinel.storeName" .)) .Values.store.auth.existingSecret }}
{{- end }}
{{- define "sentinel.injectorTlsSecretName" -}}
{{- default (printf "%s-tls" (include "sentinel.injectorName" .)) .Values.injector.tls.existingSecret }}
{{- end }}

{{- define "sentinel.injectorServiceAccountName" -}}
{{- if .Values.injector.serviceAccount.create }}
{{- default (include "sentinel.injectorName" .) .Values.injector.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.injector.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "sentinel.storeServiceAccountName" -}}
{{- if .Values.store.serviceAccount.create }}
{{- default (include "sentinel.storeName" .) .Values.store.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.store.serviceAccount.name }}
{{- end }}
{{- end }}

{{- /* repository@digest when image.digest is set (an immutable reference), repository:tag otherwise. */}}
{{- define "sentinel.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "sentinel.agentImage" -}}
{{- default (include "sentinel.image" .) .Values.agent.image }}
{{- end }}

{{- define "sentinel.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "sentinel.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sentinel
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of one component (injector | store); `sentinel.dev/component` also keeps the webhook off our own pods. */}}
{{- define "sentinel.componentLabels" -}}
app.kubernetes.io/component: {{ .component }}
sentinel.dev/component: {{ .component }}
{{- end }}

{{- define "sentinel.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sentinel.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
sentinel.dev/component: {{ .component }}
{{- end }}

{{/*
  The restricted Pod Security Standard, for every container the chart runs. securityContext.runAsUser and
  runAsGroup may be null: OpenShift's restricted SCC assigns a uid from the namespace's range and refuses others.
*/}}
{{- define "sentinel.containerSecurityContext" -}}
runAsNonRoot: true
{{- with .Values.securityContext.runAsUser }}
runAsUser: {{ . }}
{{- end }}
{{- with .Values.securityContext.runAsGroup }}
runAsGroup: {{ . }}
{{- end }}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "sentinel.podSecurityContext" -}}
runAsNonRoot: true
{{- with .Values.securityContext.fsGroup }}
fsGroup: {{ . }}
{{- end }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
  Whether the chart's store serves TLS, checked once here: the store needs its key pair, the agents the CA.
  "true" or "".
*/}}
{{- define "sentinel.storeTls" -}}
{{- $t := .Values.store.tls }}
{{- if and .Values.store.enabled $t.enabled }}
{{- if not $t.secretName }}
{{- fail "store.tls.secretName is required when store.tls.enabled: a Secret with tls.crt and tls.key for the store" }}
{{- end }}
{{- if not (contains "-----BEGIN CERTIFICATE-----" $t.caCert) }}
{{- fail "store.tls.caCert is required when store.tls.enabled: the PEM of the CA that signed the store's certificate (--set-file store.tls.caCert=ca.crt), for the agents" }}
{{- end -}}
true
{{- end }}
{{- end }}

{{/* The scheme agents use for the chart's store. */}}
{{- define "sentinel.storeScheme" -}}
{{- ternary "https" "http" (eq (include "sentinel.storeTls" .) "true") }}
{{- end }}

{{/*
  The store's ClusterIP Service by its absolute DNS name (a trailing dot), for agents, which run in other
  namespaces: with Kubernetes' ndots:5 a relative name is first tried against each of the pod's search domains (3
  or more NXDOMAIN query pairs per lookup); an absolute one is one query pair. TLS clients send and check the name
  without the dot.
*/}}
{{- define "sentinel.storeAbsoluteHost" -}}
{{- printf "%s.%s.svc.%s." (include "sentinel.storeName" .) .Release.Namespace .Values.clusterDomain }}
{{- end }}

{{/* Where agents send spans: the store's Service by its absolute name. */}}
{{- define "sentinel.exporterEndpoint" -}}
{{- if .Values.agent.exporterEndpoint }}
{{- .Values.agent.exporterEndpoint }}
{{- else if .Values.store.enabled }}
{{- printf "%s://%s:%s" (include "sentinel.storeScheme" .) (include "sentinel.storeAbsoluteHost" .) (ternary "4318" "4317" (eq (include "sentinel.exporterProtocol" .) "http")) }}
{{- else }}
{{- fail "agent.exporterEndpoint is required when store.enabled=false: the agents need somewhere to send spans" }}
{{- end }}
{{- end }}

{{/*
  The agent exporter's protocol: agent.exporterProtocol, else OTLP/HTTP to the chart's own store (the agent then
  never loads grpc-js: about 2 MiB less per pod, issue 13, BENCHMARKS.md session 9) and OTLP/gRPC to an
  agent.exporterEndpoint (what that value has always meant).
*/}}
{{- define "sentinel.exporterProtocol" -}}
{{- if .Values.agent.exporterProtocol }}
{{- if not (has .Values.agent.exporterProtocol (list "grpc" "http")) }}
{{- fail (printf "agent.exporterProtocol must be grpc or http, got %q" .Values.agent.exporterProtocol) }}
{{- end }}
{{- .Values.agent.exporterProtocol }}
{{- else if .Values.agent.exporterEndpoint }}
{{- "grpc" }}
{{- else }}
{{- "http" }}
{{- end }}
{{- end }}

{{/*
  Whether the agents run sampling.completion (issue 9): only against the chart's own store, whose decision
  feed they poll. "true" or "".
*/}}
{{- define "sentinel.completionEnabled" -}}
{{- if and .Values.agent.completion.enabled .Values.store.enabled }}true{{ end }}
{{- end }}

{{/* Where the injector mounts the agent's projected ServiceAccount token (AGENT_PATHS.tokenFile). */}}
{{- define "sentinel.agentTokenFile" -}}/var/run/secrets/sentinel/token{{- end }}

{{/*
  How the agent reads the store's CA: an environment variable the injector sets from store.tls.caCert (agents in
  app namespaces can mount nothing of the release namespace).
*/}}
{{- define "sentinel.agentStoreCaFile" -}}env:SENTINEL_STORE_CA{{- end }}

{{/* Whether agents fetch the cluster policy from the store (sampling.central_policy). "true" or "". */}}
{{- define "sentinel.centralPolicyEnabled" -}}
{{- if and .Values.store.enabled .Values.agent.centralPolicy.enabled }}true{{ end }}
{{- end }}

{{/* Whether the injector lists Nodes (agent.nativeSidecar: auto), so mounts its ServiceAccount token. "true" or "". */}}
{{- define "sentinel.injectorUsesApi" -}}
{{- if eq (toString .Values.agent.nativeSidecar) "auto" }}true{{ end }}
{{- end }}

{{/*
  Whether the store's pods mount their ServiceAccount token: for TokenReview, and for IRSA (its web-identity
  exchange has been seen to fail without it). "true" or "".
*/}}
{{- define "sentinel.storeUsesApi" -}}
{{- if or (include "sentinel.tokenReviewEnabled" .) (not (empty .Values.store.serviceAccount.annotations)) }}true{{ end }}
{{- end }}

{{/* Whether the store checks agents' projected tokens with TokenReview. "true" or "". */}}
{{- define "sentinel.tokenReviewEnabled" -}}
{{- if and .Values.store.enabled .Values.store.auth.required .Values.store.auth.tokenReview.enabled }}true{{ end }}
{{- end }}

{{/*
  The store's headless Service by its full DNS name (one address per replica), where agents find every replica
  to poll; fully qualified because agents resolve it every poll interval.
*/}}
{{- define "sentinel.storeHeadlessHost" -}}
{{- printf "%s.%s.svc.%s" (include "sentinel.storeHeadlessName" .) .Release.Namespace .Values.clusterDomain }}
{{- end }}

{{/*
  Bytes in a Kubernetes quantity (kind "quantity": 256Mi, 1G, 0.5Gi) or a Sentinel size (kind "size": 32MiB,
  64MB, 1g, 4096), as an integer string. (dict "value" V "kind" K "what" "values key, for the error")
*/}}
{{- define "sentinel.bytes" -}}
{{- $v := toString .value | trim }}
{{- if not (regexMatch "^([0-9]+(\\.[0-9]*)?|\\.[0-9]+)[a-zA-Z]*$" $v) }}
{{- fail (printf "%s: expected a number with a unit like 256Mi, got %q" .what $v) }}
{{- end }}
{{- $num := regexReplaceAll "[a-zA-Z]*$" $v "" }}
{{- $unit := regexReplaceAll "^[0-9.]*" $v "" }}
{{- $units := dict "" 1 "k" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000 "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 }}
{{- if eq .kind "size" }}
{{- $units = dict "" 1 "b" 1 "kb" 1000 "mb" 1000000 "gb" 1000000000 "kib" 1024 "mib" 1048576 "gib" 1073741824 "k" 1024 "m" 1048576 "g" 1073741824 }}
{{- $unit = lower $unit }}
{{- end }}
{{- if not (hasKey $units $unit) }}
{{- fail (printf "%s: unit %q of %q is not one of %s" .what $unit $v (keys $units | sortAlpha | join ", ")) }}
{{- end }}
{{- printf "%.0f" (floor (mulf (float64 $num) (get $units $unit))) }}
{{- end }}

{{/*
  The injected agent's resources: agent.resources, with agent.completion.maxBytes added to the memory limit
  while completion is on (the held spans are on top of everything else the agent keeps in memory).
*/}}
{{- define "sentinel.agentResources" -}}
{{- $resources := deepCopy .Values.agent.resources }}
{{- $limits := $resources.limits | default dict }}
{{- if and (include "sentinel.completionEnabled" .) $limits.memory }}
{{- $limit := include "sentinel.bytes" (dict "value" $limits.memory "kind" "quantity" "what" "agent.resources.limits.memory") }}
{{- $held := include "sentinel.bytes" (dict "value" .Values.agent.completion.maxBytes "kind" "size" "what" "agent.completion.maxBytes") }}
{{- $total := add $limit $held }}
{{- $_ := set $limits "memory" (ternary (printf "%dMi" (div $total 1048576)) (printf "%d" $total) (eq (mod $total 1048576) 0)) }}
{{- $_ := set $resources "limits" $limits }}
{{- end }}
{{- toYaml $resources }}
{{- end }}

{{/*
  The agent config template (docs/configuration.md, agent sections) the injector renders into every injected pod's
  SENTINEL_AGENT_CONFIG; paths match what the injector mounts (the projected token, the queue's emptyDir).
*/}}
{{- define "sentinel.agentConfig" -}}
{{- /* The queue stays at 80 % of its emptyDir: the kubelet evicts a pod whose emptyDir outgrows sizeLimit. */}}
{{- $queueMaxBytes := printf "%dMiB" (div (mul (int .Values.agent.queueSizeMiB) 8) 10) }}
{{- if .Values.agent.metricsEndpoint }}
{{- /* Two exporters share the emptyDir: 60 % for the main one (its signals split it), 20 % for metrics. */}}
{{- $queueMaxBytes = printf "%dMiB" (div (mul (int .Values.agent.queueSizeMiB) 6) 10) }}
{{- end }}
{{- $exporter := dict "type" "otlp" "endpoint" (include "sentinel.exporterEndpoint" .) "protocol" (include "sentinel.exporterProtocol" .) "queue" (dict "dir" "/var/lib/sentinel/queue" "max_bytes" $queueMaxBytes) "signals" .Values.agent.exporterSignals }}
{{- $exporters := list $exporter }}
{{- if .Values.agent.metricsEndpoint }}
{{- /* Metrics (issue 16) to their own backend; they share the queue's emptyDir under their own sub-directory. */}}
{{- $exporters = append $exporters (dict "type" "otlp" "name" "metrics" "endpoint" .Values.agent.metricsEndpoint "protocol" .Values.agent.metricsProtocol "signals" (list "metrics") "queue" (dict "dir" "/var/lib/sentinel/queue" "max_bytes" (printf "%dMiB" (div (mul (int .Values.agent.queueSizeMiB) 2) 10)))) }}
{{- end }}
{{- $storeTls := include "sentinel.storeTls" . }}
{{- $token := include "sentinel.agentTokenFile" . }}
{{- $caFile := include "sentinel.agentStoreCaFile" . }}
{{- if and .Values.store.enabled .Values.store.auth.required (not .Values.agent.exporterEndpoint) }}
{{- $_ := set $exporter "bearer_token_file" $token }}
{{- end }}
{{- if and $storeTls (not .Values.agent.exporterEndpoint) }}
{{- $_ := set $exporter "tls" (dict "ca_file" $caFile) }}
{{- end }}
{{- $completion := dict "enabled" false }}
{{- if include "sentinel.completionEnabled" . }}
{{- $c := .Values.agent.completion }}
{{- /* A trailing dot: the name is absolute, so each poll resolves it in one query pair instead of first trying
  the pod's DNS search list (ndots:5 in Kubernetes: 3 or more NXDOMAIN pairs per poll_interval, issue 13). */}}
{{- $storesDns := printf "%s.:3200" (include "sentinel.storeHeadlessHost" .) }}
{{- if $storeTls }}
{{- $storesDns = printf "https://%s" $storesDns }}
{{- end }}
{{- $completion = dict "enabled" true "window" $c.window "max_bytes" $c.maxBytes "poll_interval" $c.pollInterval "stores_dns" $storesDns }}
{{- if .Values.store.auth.required }}
{{- $_ := set $completion "bearer_token_file" $token }}
{{- end }}
{{- if $storeTls }}
{{- $_ := set $completion "tls" (dict "ca_file" $caFile) }}
{{- end }}
{{- end }}
{{- $sampling := dict "completion" $completion "num_traces" (int .Values.agent.numTraces) }}
{{- if include "sentinel.centralPolicyEnabled" . }}
{{- $central := dict "url" (printf "%s://%s:3200/api/policy" (include "sentinel.storeScheme" .) (include "sentinel.storeAbsoluteHost" .)) "poll_interval" .Values.agent.centralPolicy.pollInterval }}
{{- if .Values.store.auth.required }}
{{- $_ := set $central "bearer_token_file" $token }}
{{- end }}
{{- if $storeTls }}
{{- $_ := set $central "tls" (dict "ca_file" $caFile) }}
{{- end }}
{{- $_ := set $sampling "central_policy" $central }}
{{- end }}
{{- $config := dict
  "receivers" (dict "otlp" (dict "grpc" (dict "endpoint" "127.0.0.1:4317") "http" (dict "endpoint" "127.0.0.1:4318")))
  "admin" (dict "endpoint" "0.0.0.0:8888")
  "log" (dict "level" .Values.agent.logLevel)
  "shutdown_timeout" "20s"
  "enrich" (dict "podinfo_dir" "/etc/podinfo")
  "sampling" $sampling
  "exporters" $exporters
}}
{{- toYaml (mergeOverwrite $config (deepCopy .Values.agent.config)) }}
{{- end }}

{{/* The store config file (docs/configuration.md "Store config"). */}}
{{- define "sentinel.storeConfig" -}}
{{- $s := .Values.store }}
{{- $query := dict "endpoint" "0.0.0.0:3200" }}
{{- if gt (int $s.replicas) 1 }}
{{- /* Several replicas: a trace lookup also asks the others for the spans they have not written to a block yet
  (docs/query-api.md "Several replicas"), every replica but this one through the headless Service, with the
  reader token and the store's CA, as Grafana would. */}}
{{- $storeTls := include "sentinel.storeTls" . }}
{{- $peers := dict "dns" (printf "%s%s.:3200" (ternary "https://" "" (eq $storeTls "true")) (include "sentinel.storeHeadlessHost" .)) }}
{{- if $s.auth.required }}
{{- $_ := set $peers "bearer_token_file" "/var/run/sentinel/auth/token" }}
{{- end }}
{{- if $storeTls }}
{{- $_ := set $peers "tls" (dict "ca_file" "/etc/sentinel-store/ca.crt") }}
{{- end }}
{{- $_ := set $query "peers" $peers }}
{{- end }}
{{- $config := dict
  "receivers" (dict "otlp" (dict "grpc" (dict "endpoint" "0.0.0.0:4317") "http" (dict "endpoint" "0.0.0.0:4318") "max_request_bytes" "16MiB"))
  "admin" (dict "endpoint" "0.0.0.0:8888")
  "storage" (dict "url" (default "file:///var/lib/sentinel/data" $s.storage.url) "s3" (dict "endpoint" $s.storage.s3.endpoint "region" $s.storage.s3.region "force_path_style" $s.storage.s3.forcePathStyle))
  "wal_dir" "/var/lib/sentinel/wal"
  "block" (dict "max_bytes" $s.block.maxBytes "max_spans" $s.block.maxSpans "max_age" $s.block.maxAge)
  "compaction" (dict "enabled" $s.compaction.enabled "interval" $s.compaction.interval "leader" (printf "%s-0" (include "sentinel.storeName" .)))
  "retention" $s.retention
  "decisions" (dict "dir" "/var/lib/sentinel/decisions" "max_entries" $s.decisions.maxEntries "retention" $s.decisions.retention)
  "query" $query
  "tls" (ternary (dict "cert_file" "/var/run/sentinel/tls/tls.crt" "key_file" "/var/run/sentinel/tls/tls.key" "client_ca_file" "") (dict "cert_file" "" "key_file" "" "client_ca_file" "") (eq (include "sentinel.storeTls" .) "true"))
  "auth" (dict "required" $s.auth.required "token_files" (list) "reader_token_files" (ternary (list "/var/run/sentinel/auth/token") (list) $s.auth.required) "token_review" (dict "enabled" (eq (include "sentinel.tokenReviewEnabled" .) "true") "audience" .Values.agent.tokenAudience "cache_ttl" $s.auth.tokenReview.cacheTtl "kubeconfig" ""))
  "policy" (dict "file" "/etc/sentinel-policy/policy.yaml")
}}
{{- toYaml $config }}
{{- end }}

{{/*
  The injector config file (docs/configuration.md "Injector config"). Whether the agent is a native sidecar is decided by
  the injector per pod (agent.nativeSidecar auto: from the oldest node's kubelet), never at render time.
*/}}
{{- define "sentinel.injectorConfig" -}}
{{- $env := list }}
{{- if include "sentinel.storeTls" . }}
{{- $env = append $env (dict "name" "SENTINEL_STORE_CA" "value" (.Values.store.tls.caCert | trim)) }}
{{- end }}
{{- $env = concat $env .Values.agent.extraEnv }}
{{- if not $env }}{{ $env = list }}{{ end }}
{{- $config := dict
  "listen" "0.0.0.0:8443"
  "tls" (dict "cert_file" "/tls/tls.crt" "key_file" "/tls/tls.key")
  "admin" (dict "endpoint" "0.0.0.0:8888")
  "log" (dict "level" .Values.injector.logLevel)
  "namespace" .Release.Namespace
  "exclude_namespaces" .Values.injector.excludeNamespaces
  "policy_file" "/etc/sentinel-policy/policy.yaml"
  "agent" (dict
    "image" (include "sentinel.agentImage" .)
    "image_pull_policy" .Values.image.pullPolicy
    "image_pull_secrets" .Values.agent.imagePullSecrets
    "config" (include "sentinel.agentConfig" . | fromYaml)
    "extra_env" $env
    "native_sidecar" .Values.agent.nativeSidecar
    "native_sidecar_min_kubelet" .Values.agent.nativeSidecarMinKubelet
    "token_audience" .Values.agent.tokenAudience
    "token_expiration_seconds" .Values.agent.tokenExpirationSeconds
    "run_as_user" .Values.securityContext.runAsUser
    "run_as_group" .Values.securityContext.runAsGroup
    "resources" (include "sentinel.agentResources" . | fromYaml)
    "queue_size_limit" (printf "%dMi" (int .Values.agent.queueSizeMiB)))
}}
{{- toYaml $config }}
{{- end }}

{{/*
  NODE_OPTIONS for the store, from store.resources.limits.memory (a whole number of Mi or Gi; anything else:
  none, and Node sizes V8 itself). Without it V8 sizes the heap as for a whole machine of the limit (about half:
  about 1 GiB at 2Gi, the store's whole memory budget, memory_limit_mib 1024, with no room for garbage), or for the
  node where Node cannot read the cgroup. Old space 5/8 of the limit (1280 MiB at 2Gi); the block encoder's worker
  takes half of memory_limit_mib (512 MiB) besides, and Node, buffers and code the rest (docs/store-robustness.md
  "Memory").
*/}}
{{- define "sentinel.storeNodeOptions" -}}
{{- $limit := toString (dig "limits" "memory" "" .Values.store.resources) -}}
{{- $mib := 0 -}}
{{- if regexMatch "^[0-9]+Gi$" $limit }}{{ $mib = mul (trimSuffix "Gi" $limit | atoi) 1024 }}
{{- else if regexMatch "^[0-9]+Mi$" $limit }}{{ $mib = trimSuffix "Mi" $limit | atoi }}{{ end -}}
{{- if gt (int $mib) 0 -}}
--max-old-space-size={{ div (mul $mib 5) 8 }} --max-semi-space-size=8
{{- end -}}
{{- end }}
