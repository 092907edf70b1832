{{/*
Chart name, truncated to 63 characters (a DNS label).
*/}}
{{- define "aiops.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name: <release>-<chart>, or <release> when it already contains the chart name.
*/}}
{{- define "aiops.fullname" -}}
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

{{/*
Chart label value: name-version.
*/}}
{{- define "aiops.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels on every resource.
*/}}
{{- define "aiops.labels" -}}
helm.sh/chart: {{ include "aiops.chart" . }}
{{ include "aiops.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: aiops
{{- end }}

{{/*
Selector labels (immutable on the Deployment: never add to them).
*/}}
{{- define "aiops.selectorLabels" -}}
app.kubernetes.io/name: {{ include "aiops.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The ServiceAccount the operator runs as.
*/}}
{{- define "aiops.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "aiops.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The operator image: repository@digest, else repository:tag (tag defaults to appVersion).
*/}}
{{- define "aiops.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
Name of the Secret holding the API tokens (existing, or rendered by the chart), or "" for none.
*/}}
{{- define "aiops.apiTokensSecret" -}}
{{- if .Values.api.existingSecret }}
{{- .Values.api.existingSecret }}
{{- else if .Values.api.tokens }}
{{- printf "%s-api-tokens" (include "aiops.fullname" .) }}
{{- end }}
{{- end }}

{{/*
Key of the tokens JSON in that Secret.
*/}}
{{- define "aiops.apiTokensKey" -}}
{{- if .Values.api.existingSecret }}
{{- .Values.api.existingSecretKey }}
{{- else }}
{{- print "tokens" }}
{{- end }}
{{- end }}

{{/*
True ("true") when extra playbooks are mounted at /etc/aiops/playbooks.
*/}}
{{- define "aiops.hasExtraPlaybooks" -}}
{{- if or .Values.playbooks.extra .Values.playbooks.existingConfigMap }}true{{- end }}
{{- end }}

{{/*
The settings file (AIOPS_CONFIG), in the structure of aiops/settings.py. Secrets (REDIS_URL,
API tokens, chat tokens) are not here: they come from the environment, which wins over this file.
Whole numbers go through int64 (here and in every template): Helm reads values as float64, and
`quote`, `print` or a bare action would render 1048576 as "1.048576e+06", which aiops refuses.
`toJson` is kept for values that may be fractional (it prints 1048576 in full).
*/}}
{{- define "aiops.config" -}}
# Rendered by the aiops Helm chart; every key is documented in docs/configuration.md.
redis_prefix: {{ .Values.redis.prefix | toJson }}
include_builtin_playbooks: {{ .Values.playbooks.includeBuiltin }}
watch_playbook_resources: {{ .Values.playbooks.watchResources }}
{{- if include "aiops.hasExtraPlaybooks" . }}
playbook_dirs:
  - /etc/aiops/playbooks
{{- end }}
{{- if .Values.rules.override }}
rules_file: /etc/aiops/config/rules.yaml
{{- end }}
{{- if and .Values.llm.baseUrl .Values.llm.model }}
llm:
  base_url: {{ .Values.llm.baseUrl | toJson }}
  model: {{ .Values.llm.model | toJson }}
  timeout_seconds: {{ .Values.llm.timeoutSeconds | toJson }}
{{- end }}
log_level: {{ .Values.logLevel | toJson }}
log_json: {{ .Values.logJson }}
kube:
  in_cluster: true
  namespaces: {{ .Values.namespaces.include | toJson }}
  exclude_namespaces: {{ .Values.namespaces.exclude | toJson }}
approvals:
  ttl_seconds_medium: {{ .Values.approvals.ttlSeconds.medium | int64 }}
  ttl_seconds_high: {{ .Values.approvals.ttlSeconds.high | int64 }}
  approvers_medium: {{ .Values.approvals.approvers.medium | toJson }}
  approvers_high: {{ .Values.approvals.approvers.high | toJson }}
  people: {{ .Values.approvals.people | toJson }}
  votes_medium: {{ .Values.approvals.votes.medium | int64 }}
  votes_high: {{ .Values.approvals.votes.high | int64 }}
  votes_by_action: {{ .Values.approvals.votes.byAction | default dict | toJson }}
  subject_access_review: {{ .Values.approvals.subjectAccessReview | toJson }}
  sweep_interval_seconds: {{ .Values.approvals.sweepIntervalSeconds | toJson }}
api:
  host: 0.0.0.0
  port: 8080
  allow_unauthenticated: {{ .Values.api.allowUnauthenticated }}
actions:
  max_memory_limit: {{ .Values.actions.maxMemoryLimit | toJson }}
  eviction_retry_seconds: {{ .Values.actions.evictionRetrySeconds | toJson }}
  eviction_timeout_seconds: {{ .Values.actions.evictionTimeoutSeconds | toJson }}
  log_tail_lines: {{ .Values.actions.logTailLines | int64 }}
runs:
  max_wait_seconds: {{ .Values.runs.maxWaitSeconds | int64 }}
safety:
  dry_run: {{ .Values.safety.dryRun | toJson }}
  paused: {{ .Values.safety.paused | toJson }}
  pause_annotation: {{ .Values.safety.pauseAnnotation | toJson }}
  namespaces: {{ .Values.safety.namespaces | toJson }}
  exclude_namespaces: {{ .Values.safety.excludeNamespaces | toJson }}
  protected_namespaces: {{ .Values.safety.protectedNamespaces | toJson }}
  budget_per_namespace: {{ .Values.safety.budgetPerNamespace | int64 }}
  budget_per_cluster: {{ .Values.safety.budgetPerCluster | int64 }}
  budget_window_seconds: {{ .Values.safety.budgetWindowSeconds | int64 }}
  rate_limit_seconds: {{ .Values.safety.rateLimitSeconds | int64 }}
  max_not_ready_node_share: {{ .Values.safety.maxNotReadyNodeShare | toJson }}
  ok_not_ready_nodes: {{ .Values.safety.okNotReadyNodes | int64 }}
  max_unavailable_workload_share: {{ .Values.safety.maxUnavailableWorkloadShare | toJson }}
  workload_min_pods: {{ .Values.safety.workloadMinPods | int64 }}
  verify_settle_seconds: {{ .Values.safety.verifySettleSeconds | toJson }}
  verify_timeout_seconds: {{ .Values.safety.verifyTimeoutSeconds | toJson }}
  verify_poll_seconds: {{ .Values.safety.verifyPollSeconds | toJson }}
  max_replans: {{ .Values.safety.maxReplans | int64 }}
{{- /* Chat: only the non-secret settings; the tokens come from the existing Secret (env). */}}
{{- if .Values.slack.existingSecret }}
slack:
  mode: {{ .Values.slack.mode | toJson }}
  channel: {{ .Values.slack.channel | toJson }}
  {{- with .Values.slack.apiUrl }}
  api_url: {{ . | toJson }}
  {{- end }}
{{- end }}
{{- if .Values.telegram.existingSecret }}
telegram:
  mode: {{ .Values.telegram.mode | toJson }}
  chat_ids: [{{ range $i, $id := .Values.telegram.chatIds }}{{ if $i }}, {{ end }}{{ $id | int64 }}{{ end }}]
  {{- with .Values.telegram.webhookUrl }}
  webhook_url: {{ . | toJson }}
  {{- end }}
  {{- with .Values.telegram.apiUrl }}
  api_url: {{ . | toJson }}
  {{- end }}
{{- end }}
{{- end }}

{{/*
The chat secrets as env entries: secretKeyRef into slack.existingSecret / telegram.existingSecret.
A key the configured mode does not need is `optional`, so one Secret layout serves both modes and
a missing required key stops the pod before it starts (CreateContainerConfigError).
*/}}
{{- define "aiops.chatEnv" -}}
{{- with .Values.slack.existingSecret }}
- name: AIOPS_SLACK__BOT_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.slack.botTokenKey }}
- name: AIOPS_SLACK__APP_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.slack.appTokenKey }}
      {{- if ne $.Values.slack.mode "socket" }}
      optional: true
      {{- end }}
- name: AIOPS_SLACK__SIGNING_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.slack.signingSecretKey }}
      {{- if ne $.Values.slack.mode "http" }}
      optional: true
      {{- end }}
{{- end }}
{{- with .Values.telegram.existingSecret }}
- name: AIOPS_TELEGRAM__BOT_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.telegram.botTokenKey }}
- name: AIOPS_TELEGRAM__WEBHOOK_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.telegram.webhookSecretKey }}
      {{- if ne $.Values.telegram.mode "webhook" }}
      optional: true
      {{- end }}
{{- end }}
{{- end }}

{{/*
"true" when a monitoring object is to be rendered: its `enabled` value is true, or "auto" and the
cluster serves monitoring.coreos.com/v1 (prometheus-operator's CRDs; `helm template` needs
`--api-versions monitoring.coreos.com/v1`). Call with (list <enabled value> $).
*/}}
{{- define "aiops.monitoringOn" -}}
{{- $enabled := index . 0 }}
{{- $root := index . 1 }}
{{- if eq (toString $enabled) "auto" }}
{{- if $root.Capabilities.APIVersions.Has "monitoring.coreos.com/v1" }}true{{ end }}
{{- else if $enabled }}true{{ end }}
{{- end }}

{{/*
PromQL label matchers selecting this release's scrape targets: prometheusRule.selector, else the
labels a ServiceMonitor scrape gives them (job = the Service's name, namespace = its namespace).
*/}}
{{- define "aiops.promSelector" -}}
{{- if .Values.prometheusRule.selector }}
{{- .Values.prometheusRule.selector }}
{{- else }}
{{- printf "job=%q, namespace=%q" (include "aiops.fullname" .) .Release.Namespace }}
{{- end }}
{{- end }}

{{/*
"true" when the bundled Redis StatefulSet is rendered: redis.bundled.enabled and no external Redis
(redis.url or redis.existingSecret) given.
*/}}
{{- define "aiops.redisBundled" -}}
{{- if and .Values.redis.bundled.enabled (not .Values.redis.url) (not .Values.redis.existingSecret) }}true{{- end }}
{{- end }}

{{/*
Name of the bundled Redis StatefulSet, its Service and its pods' label value.
*/}}
{{- define "aiops.redisName" -}}
{{- printf "%s-redis" (include "aiops.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels of the bundled Redis pods.
*/}}
{{- define "aiops.redisSelectorLabels" -}}
app.kubernetes.io/name: {{ include "aiops.name" . }}-redis
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The REDIS_URL env entry (and the password it is built from, for the bundled Redis with a password):
an existing Secret's URL, else the bundled Redis's Service, else redis.url.
*/}}
{{- define "aiops.redisEnv" -}}
{{- if .Values.redis.existingSecret }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.existingSecret }}
      key: {{ .Values.redis.existingSecretKey }}
{{- else if include "aiops.redisBundled" . }}
{{- $host := printf "%s.%s.svc:6379/0" (include "aiops.redisName" .) .Release.Namespace }}
{{- with .Values.redis.bundled.existingSecret }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.redis.bundled.existingSecretKey }}
- name: REDIS_URL
  value: {{ printf "redis://:$(REDIS_PASSWORD)@%s" $host | quote }}
{{- else }}
- name: REDIS_URL
  value: {{ printf "redis://%s" $host | quote }}
{{- end }}
{{- else }}
- name: REDIS_URL
  value: {{ .Values.redis.url | quote }}
{{- end }}
{{- end }}

{{/*
The Lease the replicas elect a leader with (leader_election.lease_name): prometheusRule.leaseName,
else the release's full name, which the chart sets as the Lease name.
*/}}
{{- define "aiops.leaseName" -}}
{{- default (include "aiops.fullname" .) .Values.prometheusRule.leaseName }}
{{- end }}

{{/*
PromQL: the increase of counter series M over window W, summed by BY, compared with CMP, counting
series that are newer than W as well: a labelled counter appears at its first increment (value 1)
and increase() needs two samples, so without the second term the first failure of each kind per
pod would never alert. Call with (dict "m" M "w" W "by" BY "cmp" CMP).
*/}}
{{- define "aiops.recentIncrease" -}}
(sum by ({{ .by }}) (increase({{ .m }}[{{ .w }}])) {{ .cmp }})
  or (sum by ({{ .by }}) ({{ .m }} unless {{ .m }} offset {{ .w }}) {{ .cmp }})
{{- end }}

{{/*
The write actions whose rules are namespaced (pods, workloads, their scale subresource, HPAs), and
those whose rules are cluster-scoped (nodes). Each rule is what the action's planner reads before it
writes and the write itself (docs/operations.md, "RBAC").
*/}}
{{- define "aiops.remediationNamespacedRules" -}}
{{- $actions := .Values.rbac.remediation.actions }}
{{- if has "delete_pod" $actions }}
# delete_pod: delete one pod (uid precondition); its controller replaces it.
- apiGroups: [""]
  resources: [pods]
  verbs: [delete]
{{- end }}
{{- if or (has "rollout_restart" $actions) (has "patch_resources" $actions) }}
# rollout_restart (restartedAt annotation) and patch_resources (container requests/limits): a
# patch of the pod template (rollback's too: the previous ReplicaSet's template).
- apiGroups: [apps]
  resources: [deployments, statefulsets, daemonsets]
  verbs: [patch]
{{- else if has "rollback" $actions }}
# rollback: the Deployment's template is set to the previous ReplicaSet's.
- apiGroups: [apps]
  resources: [deployments]
  verbs: [patch]
{{- end }}
{{- if has "scale" $actions }}
# scale: through the scale subresource only (read, then patch spec.replicas); on an HPA, its
# ceiling (spec.maxReplicas), since the HPA owns its target's replicas.
- apiGroups: [apps]
  resources: [deployments/scale, statefulsets/scale, replicasets/scale]
  verbs: [get, patch]
- apiGroups: [autoscaling]
  resources: [horizontalpodautoscalers]
  verbs: [patch]
{{- end }}
{{- if has "drain" $actions }}
# drain: evictions through the Eviction API, so PodDisruptionBudgets are respected; the budgets are
# read first to tell who would be refused.
- apiGroups: [""]
  resources: [pods/eviction]
  verbs: [create]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [list]
{{- end }}
{{- end }}

{{- define "aiops.remediationClusterRules" -}}
{{- $actions := .Values.rbac.remediation.actions }}
{{- if or (has "cordon" $actions) (has "uncordon" $actions) (has "drain" $actions) }}
# cordon, uncordon, drain: spec.unschedulable of a node.
- apiGroups: [""]
  resources: [nodes]
  verbs: [patch]
{{- end }}
{{- end }}

{{/*
The operator's ServiceAccount as an RBAC subject (one list item).
*/}}
{{- define "aiops.subject" -}}
- kind: ServiceAccount
  name: {{ include "aiops.serviceAccountName" . }}
  namespace: {{ .Release.Namespace }}
{{- end }}
