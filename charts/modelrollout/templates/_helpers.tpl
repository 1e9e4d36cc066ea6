{{/* Names and labels shared by every template. */}}

{{- define "modelrollout.name" -}}
modelrollout
{{- end }}

{{/* The release name, unless it already says modelrollout; at most 63 characters. */}}
{{- define "modelrollout.fullname" -}}
{{- if contains "modelrollout" .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-modelrollout" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end }}

{{- define "modelrollout.controllerName" -}}
{{- printf "%s-controller" (include "modelrollout.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end }}

{{- define "modelrollout.dashboardName" -}}
{{- printf "%s-dashboard" (include "modelrollout.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end }}

{{- define "modelrollout.serviceAccountName" -}}
{{- default (include "modelrollout.controllerName" .) .Values.serviceAccount.name -}}
{{- end }}

{{/*
No managed-by or chart labels: install.yaml is this chart rendered, and a plain
`kubectl apply` of it is not managed by Helm.
*/}}
{{- define "modelrollout.labels" -}}
app.kubernetes.io/name: {{ include "modelrollout.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: modelrollout
{{- end }}

{{- define "modelrollout.controllerSelector" -}}
app.kubernetes.io/name: {{ include "modelrollout.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end }}

{{- define "modelrollout.dashboardSelector" -}}
app.kubernetes.io/name: {{ include "modelrollout.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: dashboard
{{- end }}

{{- define "modelrollout.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end }}

{{/* Restricted Pod Security Standard: what both containers run under. */}}
{{- define "modelrollout.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "modelrollout.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end }}
