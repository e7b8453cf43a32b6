{{/* Helpers of cnibox's istio-cni chart (spec istio-cni.md §6.3). */}}

{{/* The base name of every object. The DaemonSet is "<name>-node": the plugin's failsafe and the
agent's upgrade check look for exactly "istio-cni-node". */}}
{{- define "name" -}}
istio-cni
{{- end }}

{{/* True when the namespaced objects render (global.resourceScope all or namespace). */}}
{{- define "istio-cni.namespaced" -}}
{{- if has .Values.global.resourceScope (list "all" "namespace") }}true{{ end }}
{{- end }}

{{/* True when the cluster-scoped objects render (global.resourceScope all or cluster). */}}
{{- define "istio-cni.clusterScoped" -}}
{{- if has .Values.global.resourceScope (list "all" "cluster") }}true{{ end }}
{{- end }}

{{/* The image tag: tag (else global.tag), then "-<variant>" (variant, else global.variant). */}}
{{- define "istio-tag" -}}
{{- .Values.tag | default .Values.global.tag }}
{{- with .Values.variant | default .Values.global.variant }}-{{ . }}{{ end }}
{{- end }}

{{/* The image: verbatim when it contains "/", else <hub>/<image>:<tag>. */}}
{{- define "istio-cni.image" -}}
{{- if contains "/" .Values.image }}
{{- .Values.image }}
{{- else }}
{{- printf "%s/%s:%s" (.Values.hub | default .Values.global.hub) (.Values.image | default "install-cni") (include "istio-tag" .) }}
{{- end }}
{{- end }}

{{/* Labels every object carries (Istio's "istio.labels"). */}}
{{- define "istio.labels" -}}
{{- with .Release.Service }}
app.kubernetes.io/managed-by: {{ . | quote }}
{{- end }}
{{- with .Release.Name }}
app.kubernetes.io/instance: {{ . | quote }}
{{- end }}
app.kubernetes.io/part-of: "istio"
{{- with .Chart.AppVersion }}
app.kubernetes.io/version: {{ . | quote }}
{{- end }}
{{- if and .Chart.Name .Chart.Version }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* The revision/owner/component labels shared by most objects; the first label differs per object
and is written by the caller. Quoted (Istio's are not), so that a release or revision named "123"
stays a string label. */}}
{{- define "istio-cni.ownerLabels" -}}
release: {{ .Release.Name | quote }}
istio.io/rev: {{ .Values.revision | default "default" | toString | quote }}
install.operator.istio.io/owning-resource: {{ .Values.ownerName | default "unknown" | toString | quote }}
operator.istio.io/component: "Cni"
app.kubernetes.io/name: {{ include "name" . }}
{{ include "istio.labels" . | trim }}
{{- end }}

{{/* A resources block ({limits, requests}) without its empty, zero or null entries; a section left
with none is left out. */}}
{{- define "istio-cni.resources" -}}
{{- $res := . }}
{{- range $section := list "limits" "requests" }}
{{- $kept := dict }}
{{- range $name, $value := (index $res $section) | default dict }}
{{- if $value }}{{ $_ := set $kept $name $value }}{{ end }}
{{- end }}
{{- if $kept }}
{{ $section }}:
{{- range $name, $value := $kept }}
  {{ $name }}: {{ $value }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
