{{/* Chart name, overridable with nameOverride. */}}
{{- define "meshcert.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Prefix of every resource name: the release name when it contains the
chart name (release "meshcert" gives "meshcert-webhook"), otherwise
"<release>-meshcert". It is cut to 50 characters so that suffixes such
as "-webhook-cert" fit in 63.
*/}}
{{- define "meshcert.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- $name := include "meshcert.name" . }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "meshcert.webhookName" -}}{{ include "meshcert.fullname" . }}-webhook{{- end }}
{{- define "meshcert.exporterName" -}}{{ include "meshcert.fullname" . }}-exporter{{- end }}
{{- define "meshcert.certSecretName" -}}{{ include "meshcert.fullname" . }}-webhook-cert{{- end }}

{{- define "meshcert.webhookServiceAccount" -}}
{{- default (include "meshcert.webhookName" .) .Values.serviceAccount.webhook.name }}
{{- end }}

{{- define "meshcert.exporterServiceAccount" -}}
{{- default (include "meshcert.exporterName" .) .Values.serviceAccount.exporter.name }}
{{- end }}

{{- define "meshcert.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "meshcert.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "meshcert.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: meshcert
{{- end }}

{{/* Selector labels of one component; pass (list $ "webhook"). */}}
{{- define "meshcert.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "meshcert.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{/*
Labels of one component's pods; pass (list $ "webhook"). Each key appears
once: podLabels may override the common labels but never the selector
labels, which the Deployment's selector must match.
*/}}
{{- define "meshcert.podLabels" -}}
{{- $root := index . 0 -}}
{{- $selector := include "meshcert.selectorLabels" . | fromYaml -}}
{{- $common := include "meshcert.labels" $root | fromYaml -}}
{{- merge $selector (deepCopy $root.Values.podLabels) $common | toYaml }}
{{- end }}

{{/* Pod security context: the restricted Pod Security Standard. */}}
{{- define "meshcert.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "meshcert.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 65532
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Pod scheduling fields shared by every pod. */}}
{{- define "meshcert.podScheduling" -}}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The exporter container, as a sidecar or in its own Deployment. */}}
{{- define "meshcert.exporterContainer" -}}
- name: exporter
  image: {{ include "meshcert.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  command: ["/exporter"]
  args:
    - --web.listen-address=:9219
    - --web.telemetry-path=/metrics
    - --log.level={{ .Values.log.level }}
    - --log.format={{ .Values.log.format }}
    {{- range .Values.exporter.extraArgs }}
    - {{ . | quote }}
    {{- end }}
  {{- with .Values.exporter.goMemLimit }}
  env:
    - name: GOMEMLIMIT
      value: {{ . | quote }}
  {{- end }}
  ports:
    - name: exporter
      containerPort: 9219
      protocol: TCP
  livenessProbe:
    httpGet:
      path: /healthz
      port: exporter
    periodSeconds: 20
  readinessProbe:
    httpGet:
      path: /readyz
      port: exporter
    periodSeconds: 10
  securityContext:
    {{- include "meshcert.containerSecurityContext" . | nindent 4 }}
  resources:
    {{- toYaml .Values.exporter.resources | nindent 4 }}
{{- end }}

{{/*
Namespaces the webhooks skip: the release namespace, the configured
ones, and any labelled meshcert.io/validation=disabled.
*/}}
{{- define "meshcert.namespaceSelector" -}}
matchExpressions:
  - key: kubernetes.io/metadata.name
    operator: NotIn
    values:
      {{- range (prepend .Values.webhook.excludedNamespaces .Release.Namespace | uniq) }}
      - {{ . | quote }}
      {{- end }}
  - key: meshcert.io/validation
    operator: NotIn
    values:
      - disabled
{{- end }}

{{/* clientConfig of a webhook; pass (list $ "/validate-secret"). */}}
{{- define "meshcert.clientConfig" -}}
{{- $root := index . 0 -}}
service:
  name: {{ include "meshcert.webhookName" $root }}
  namespace: {{ $root.Release.Namespace }}
  path: {{ index . 1 }}
  port: 443
{{- end }}

{{/* Annotations that let cert-manager's cainjector fill the CA bundles. */}}
{{- define "meshcert.webhookConfigAnnotations" -}}
{{- if .Values.certManager.enabled -}}
annotations:
  cert-manager.io/inject-ca-from: {{ .Release.Namespace }}/{{ include "meshcert.webhookName" . }}
{{- end }}
{{- end }}

{{/*
Alert rules from files/alerts.yaml (a copy of dashboards/alerts.yaml)
with the thresholds taken from values. Each token must be in the file, so
a change there cannot silently drop a threshold. Tokens become
placeholders first, so a new value never matches a later token.
*/}}
{{- define "meshcert.alertRules" -}}
{{- if ge (int .Values.alerts.expiryCriticalDays) (int .Values.alerts.expiryWarningDays) }}
{{- fail "alerts.expiryCriticalDays must be less than alerts.expiryWarningDays" }}
{{- end }}
{{- $rules := .Files.Get "files/alerts.yaml" -}}
{{- $replacements := list
  (list "< 30 * 86400" (printf "< %d * 86400" (int .Values.alerts.expiryWarningDays)))
  (list "< 7 * 86400" (printf "< %d * 86400" (int .Values.alerts.expiryCriticalDays)))
  (list "> 0.8 * 10" (printf "> 0.8 * %d" (int .Values.webhook.timeoutSeconds))) -}}
{{- range $i, $r := $replacements }}
{{- if not (contains (index $r 0) $rules) }}
{{- fail (printf "files/alerts.yaml has no %q to replace; update the meshcert.alertRules helper" (index $r 0)) }}
{{- end }}
{{- $rules = replace (index $r 0) (printf "__meshcert_threshold_%d__" $i) $rules }}
{{- end }}
{{- range $i, $r := $replacements }}
{{- $rules = replace (printf "__meshcert_threshold_%d__" $i) (index $r 1) $rules }}
{{- end }}
{{- $rules }}
{{- end }}
