{{/*
Names, labels and the checks the schema cannot express. Every helper is
prefixed with the chart name.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "locus.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
<release>-<chart>, or just <release> when it already contains the chart name
("locus" gives "locus"), or fullnameOverride. At most 63 characters.
*/}}
{{- define "locus.fullname" -}}
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

{{/* <chart>-<version>, for the helm.sh/chart label. */}}
{{- define "locus.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels of one component: include "locus.selectorLabels" (list . "operator").
They never change after install (a Deployment's selector is immutable).
*/}}
{{- define "locus.selectorLabels" -}}
{{- $ctx := index . 0 -}}
app.kubernetes.io/name: {{ include "locus.name" $ctx }}
app.kubernetes.io/instance: {{ $ctx.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{/* The standard labels of one component: include "locus.labels" (list . "operator"). */}}
{{- define "locus.labels" -}}
{{- $ctx := index . 0 -}}
{{ include "locus.selectorLabels" . }}
app.kubernetes.io/version: {{ $ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $ctx.Release.Service }}
app.kubernetes.io/part-of: locus
helm.sh/chart: {{ include "locus.chart" $ctx }}
{{- end }}

{{/* A {requests, limits} map without its empty halves, as YAML; empty when both are. */}}
{{- define "locus.nonEmptyResources" -}}
{{- $out := dict }}
{{- range $key, $value := . }}
{{- if $value }}
{{- $_ := set $out $key $value }}
{{- end }}
{{- end }}
{{- if $out }}
{{- toYaml $out }}
{{- end }}
{{- end }}

{{/* The operator's ServiceAccount. */}}
{{- define "locus.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (printf "%s-operator" (include "locus.fullname" .)) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name: name the existing ServiceAccount when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Cluster-scoped objects (ClusterRole, ClusterRoleBinding) are shared by every
release in the cluster: their names carry the release namespace too.
*/}}
{{- define "locus.clusterObjectName" -}}
{{- printf "%s-%s-operator" .Release.Namespace (include "locus.fullname" .) | trunc 253 }}
{{- end }}

{{/* An image reference from {repository, tag, digest}: include "locus.image" (list .Values.image "0.1.0"). */}}
{{- define "locus.image" -}}
{{- $image := index . 0 }}
{{- $tag := default (index . 1) $image.tag }}
{{- if $image.digest }}
{{- printf "%s:%s@%s" $image.repository $tag $image.digest }}
{{- else }}
{{- printf "%s:%s" $image.repository $tag }}
{{- end }}
{{- end }}

{{/* The system image: operator, daemon, API and migrations. */}}
{{- define "locus.systemImage" -}}
{{- include "locus.image" (list .Values.image .Chart.AppVersion) }}
{{- end }}

{{/* The bundled PostgreSQL's StatefulSet, Service and password Secret. */}}
{{- define "locus.postgresql.fullname" -}}
{{- printf "%s-postgresql" (include "locus.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The Secret holding the API token, and its key. */}}
{{- define "locus.apiToken.secretName" -}}
{{- default (printf "%s-api-token" (include "locus.fullname" .)) .Values.instance.api.auth.existingSecret }}
{{- end }}
{{- define "locus.apiToken.secretKey" -}}
{{- if .Values.instance.api.auth.existingSecret }}
{{- .Values.instance.api.auth.existingSecretKey }}
{{- else }}
{{- "token" }}
{{- end }}
{{- end }}

{{/*
The operator's RBAC rules, generated from operator/locus_operator/rbac.py into
files/rbac-rules.yaml: {namespaced, clusterScoped, clusterWideOnly}.
*/}}
{{- define "locus.rbacRules" -}}
{{- .Files.Get "files/rbac-rules.yaml" }}
{{- end }}

{{/*
The ClusterRole's rules, as a YAML list. Cluster-wide mode (operator.watchNamespaces
empty): every rule. Namespaced mode: only the cluster-scoped rules needed in any
mode (CRD discovery); a Role in each watched namespace grants the namespaced ones.
*/}}
{{- define "locus.clusterRules" -}}
{{- $rules := include "locus.rbacRules" . | fromYaml }}
{{- if .Values.operator.watchNamespaces }}
{{- toYaml (default list $rules.clusterScoped) }}
{{- else }}
{{- toYaml (concat $rules.namespaced $rules.clusterScoped $rules.clusterWideOnly) }}
{{- end }}
{{- end }}

{{/*
A Secret value that survives upgrades: the existing Secret's value when the
release already has one (lookup; empty under `helm template`), else a new
random one. include "locus.secretValue" (list . "secret-name" "key" 32).
*/}}
{{- define "locus.secretValue" -}}
{{- $ctx := index . 0 }}
{{- $existing := lookup "v1" "Secret" $ctx.Release.Namespace (index . 1) }}
{{- if and $existing $existing.data (hasKey $existing.data (index . 2)) }}
{{- index $existing.data (index . 2) }}
{{- else }}
{{- randAlphaNum (index . 3) | b64enc }}
{{- end }}
{{- end }}

{{/*
The rules values.schema.json states too, repeated here so that they hold when
schema validation is skipped (--skip-schema-validation), plus the one that
needs the release namespace.
*/}}
{{- define "locus.validateValues" -}}
{{- $external := .Values.externalPostgresql }}
{{- if and .Values.postgresql.enabled $external.host }}
{{- fail "externalPostgresql.host is set while postgresql.enabled is true: set postgresql.enabled=false to use externalPostgresql.host, or empty externalPostgresql.host" }}
{{- end }}
{{- if .Values.instance.enabled }}
{{- if and (not .Values.postgresql.enabled) (not (and $external.host $external.passwordSecret.name)) }}
{{- fail "the default Instance needs PostgreSQL: set postgresql.enabled=true (bundled, for trying Locus out) or externalPostgresql.host and externalPostgresql.passwordSecret.name" }}
{{- end }}
{{- $watched := .Values.operator.watchNamespaces }}
{{- if and $watched (not (has .Release.Namespace $watched)) }}
{{- fail (printf "operator.watchNamespaces %v leaves out the release namespace %s, where the default Instance lives: add %s to the list, or set instance.enabled=false" $watched .Release.Namespace .Release.Namespace) }}
{{- end }}
{{- end }}
{{- end }}
