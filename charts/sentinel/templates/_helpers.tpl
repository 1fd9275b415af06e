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
{{- define "sentinel.storeName" -}}{{ include "sentinel.fullname" . | trunc 57 | trimSuffix "-" }}-store{{- end }}
{{- define "sentinel.agentConfigMapName" -}}{{ include "sentinel.fullname" . | trunc 57 | trimSuffix "-" }}-agent{{- end }}
{{- define "sentinel.agentTokenSecretName" -}}{{ include "sentinel.fullname" . | trunc 51 | trimSuffix "-" }}-agent-token{{- end }}
{{- define "sentinel.storeAuthSecretName" -}}
{{- default (printf "%s-auth" (include "sentinel.storeName" .)) .Values.store.auth.existingSecret }}
{{- end }}
{{- define "sentinel.injectorTlsSecretName" -}}{{ include "sentinel.injectorName" . }}-tls{{- end }}

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

{{- define "sentinel.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
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

{{/* The restricted Pod Security Standard, for every container the chart runs. */}}
{{- define "sentinel.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "sentinel.podSecurityContext" -}}
runAsNonRoot: true
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Where agents send spans: the store's Service by FQDN (agents run in other namespaces). */}}
{{- define "sentinel.exporterEndpoint" -}}
{{- if .Values.agent.exporterEndpoint }}
{{- .Values.agent.exporterEndpoint }}
{{- else if .Values.store.enabled }}
{{- printf "http://%s.%s.svc:4317" (include "sentinel.storeName" .) .Release.Namespace }}
{{- else }}
{{- fail "agent.exporterEndpoint is required when store.enabled=false: the agents need somewhere to send spans" }}
{{- end }}
{{- end }}

{{/* The agent config file (CONTRACT.md "Agent config"); paths match what the injector mounts. */}}
{{- define "sentinel.agentConfig" -}}
{{- /* The queue stays at 80 % of its emptyDir: the kubelet evicts a pod whose emptyDir outgrows sizeLimit. */}}
{{- $queueMaxBytes := printf "%dMiB" (div (mul (int .Values.agent.queueSizeMiB) 8) 10) }}
{{- $exporter := dict "type" "otlp" "endpoint" (include "sentinel.exporterEndpoint" .) "protocol" "grpc" "queue" (dict "dir" "/var/lib/sentinel/queue" "max_bytes" $queueMaxBytes) }}
{{- if and .Values.store.enabled .Values.store.auth.required (not .Values.agent.exporterEndpoint) }}
{{- $_ := set $exporter "bearer_token_file" "/var/run/sentinel/token" }}
{{- end }}
{{- $config := dict
  "receivers" (dict "otlp" (dict "grpc" (dict "endpoint" "127.0.0.1:4317") "http" (dict "endpoint" "127.0.0.1:4318")))
  "admin" (dict "endpoint" "0.0.0.0:8888")
  "log" (dict "level" .Values.agent.logLevel)
  "shutdown_timeout" "20s"
  "enrich" (dict "podinfo_dir" "/etc/podinfo")
  "sampling" (dict "policy_file" "/etc/sentinel/policy.yaml")
  "exporters" (list $exporter)
}}
{{- toYaml (mergeOverwrite $config (deepCopy .Values.agent.config)) }}
{{- end }}

{{/* The store config file (CONTRACT.md "Store config"). */}}
{{- define "sentinel.storeConfig" -}}
{{- $s := .Values.store }}
{{- $config := dict
  "receivers" (dict "otlp" (dict "grpc" (dict "endpoint" "0.0.0.0:4317") "http" (dict "endpoint" "0.0.0.0:4318") "max_request_bytes" "16MiB"))
  "admin" (dict "endpoint" "0.0.0.0:8888")
  "storage" (dict "url" (default "file:///var/lib/sentinel/data" $s.storage.url) "s3" (dict "endpoint" $s.storage.s3.endpoint "region" $s.storage.s3.region "force_path_style" $s.storage.s3.forcePathStyle))
  "wal_dir" "/var/lib/sentinel/wal"
  "block" (dict "max_bytes" $s.block.maxBytes "max_spans" $s.block.maxSpans "max_age" $s.block.maxAge)
  "compaction" (dict "enabled" $s.compaction.enabled "interval" $s.compaction.interval)
  "retention" $s.retention
  "query" (dict "endpoint" "0.0.0.0:3200")
  "tls" (dict "cert_file" "" "key_file" "" "client_ca_file" "")
  "auth" (dict "required" $s.auth.required "token_files" (ternary (list "/var/run/sentinel/auth/token") (list) $s.auth.required))
}}
{{- toYaml $config }}
{{- end }}

{{/*
  The injector config file (CONTRACT.md "Injector config"). Native sidecars are on by default from Kubernetes
  1.29; on an older cluster the agent is a regular container whatever agent.nativeSidecar says.
*/}}
{{- define "sentinel.injectorConfig" -}}
{{- $tokenSecret := "" }}
{{- if and .Values.store.enabled .Values.store.auth.required (not .Values.agent.exporterEndpoint) }}
{{- $tokenSecret = include "sentinel.agentTokenSecretName" . }}
{{- end }}
{{- $config := dict
  "listen" "0.0.0.0:8443"
  "tls" (dict "cert_file" "/tls/tls.crt" "key_file" "/tls/tls.key")
  "admin" (dict "endpoint" "0.0.0.0:8888")
  "log" (dict "level" .Values.injector.logLevel)
  "namespace" .Release.Namespace
  "exclude_namespaces" .Values.injector.excludeNamespaces
  "agent" (dict
    "image" (include "sentinel.agentImage" .)
    "image_pull_policy" .Values.image.pullPolicy
    "config_map" (include "sentinel.agentConfigMapName" .)
    "token_secret" $tokenSecret
    "native_sidecar" (and .Values.agent.nativeSidecar (semverCompare ">=1.29.0-0" .Capabilities.KubeVersion.Version))
    "resources" .Values.agent.resources
    "queue_size_limit" (printf "%dMi" (int .Values.agent.queueSizeMiB)))
}}
{{- toYaml $config }}
{{- end }}
