{{/* Names of the sidecar injector's objects. */}}

{{- define "modelrollout.webhookServiceName" -}}
{{- printf "%s-webhook" (include "modelrollout.controllerName" .) | trunc 63 | trimSuffix "-" -}}
{{- end }}

{{- define "modelrollout.webhookConfigurationName" -}}
{{- printf "%s-sidecar-injector" (include "modelrollout.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end }}

{{- define "modelrollout.webhookCertificateName" -}}
{{- printf "%s-webhook" (include "modelrollout.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end }}

{{/* Where the controller reads cert-manager's certificate, mounted from its Secret. */}}
{{- define "modelrollout.webhookCertDir" -}}
/etc/modelrollout/webhook-tls
{{- end }}
