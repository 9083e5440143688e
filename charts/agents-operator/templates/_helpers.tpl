{{/*
Names are fixed, as in operator/config: `kubectl agents check` and `version` find the operator by
them, and its leader Lease is always `agents-operator`. One release per cluster: the CRDs and the
ClusterRole are cluster-wide.
*/}}

{{/* Labels of every object: the kustomization's, Helm's own, then commonLabels (which cannot
replace the first ones: selectors and `kubectl agents` rely on them). */}}
{{- define "agents-operator.labels" -}}
{{- $labels := dict
  "app.kubernetes.io/name" "agents-operator"
  "app.kubernetes.io/part-of" "kubectl-agents"
  "app.kubernetes.io/version" .Chart.AppVersion
  "helm.sh/chart" (printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-")
  "app.kubernetes.io/managed-by" .Release.Service
  "app.kubernetes.io/instance" .Release.Name -}}
{{- toYaml (merge $labels (deepCopy .Values.commonLabels)) }}
{{- end }}

{{/* repository:tag[@digest]; the tag defaults to v<appVersion>, the operator's release tag. */}}
{{- define "agents-operator.image" -}}
{{- $tag := .Values.image.tag | default (printf "v%s" .Chart.AppVersion) -}}
{{- if .Values.image.digest -}}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end }}

{{/* The labels above and more: (list $ $extra); the labels above still win. */}}
{{- define "agents-operator.labelsWith" -}}
{{- $labels := fromYaml (include "agents-operator.labels" (index . 0)) -}}
{{- toYaml (merge $labels (deepCopy (index . 1))) }}
{{- end }}
