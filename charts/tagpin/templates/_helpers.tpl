{{/* Names, labels and the pieces several templates must agree on. */}}

{{- define "tagpin.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name: also the Service name, so it is part of the serving certificate's DNS names. */}}
{{- define "tagpin.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "tagpin.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tagpin.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tagpin.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The `helm test` pod: its own name label, so the Service and the PDB never select it. */}}
{{- define "tagpin.testSelectorLabels" -}}
app.kubernetes.io/name: {{ include "tagpin.name" . }}-test
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: test
{{- end -}}

{{- define "tagpin.labels" -}}
helm.sh/chart: {{ include "tagpin.chart" . }}
{{ include "tagpin.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tagpin
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "tagpin.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tagpin.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* No default repository: a placeholder that cannot be pulled would leave failurePolicy Fail webhooks without a server. */}}
{{- define "tagpin.image" -}}
{{- $repository := required "image.repository is required: build the image from the repository's Dockerfile, push it to your registry, and set --set image.repository=REGISTRY/tagpin" .Values.image.repository -}}
{{- $tag := default .Chart.AppVersion (toString .Values.image.tag) -}}
{{- if .Values.image.digest -}}
{{- printf "%s:%s@%s" $repository $tag .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repository $tag -}}
{{- end -}}
{{- end -}}

{{/* The name the API server dials; the serving certificate must cover it. */}}
{{- define "tagpin.serviceHost" -}}
{{- printf "%s.%s.svc" (include "tagpin.fullname" .) .Release.Namespace -}}
{{- end -}}

{{/*
webhooks.url without trailing slashes, or empty. Checked against what the API server accepts in
clientConfig.url (https, a host, no user info, query or fragment); a `?` or `#` anywhere would also
swallow the /mutate and /validate the chart appends.
*/}}
{{- define "tagpin.webhookURL" -}}
{{- $url := .Values.webhooks.url | default "" -}}
{{- if $url -}}
{{- $form := "https://HOST[:PORT][/PATH], e.g. --set webhooks.url=https://127.0.0.1:8443" -}}
{{- if not (hasPrefix "https://" $url) -}}
{{- fail (printf "webhooks.url %q must start with https://, the only scheme the API server calls webhooks with: set it as %s" $url $form) -}}
{{- end -}}
{{- if contains "?" $url -}}
{{- fail (printf "webhooks.url %q must not contain a query (\"?…\"): the API server refuses it and it would swallow the /mutate and /validate the chart appends; set it as %s" $url $form) -}}
{{- end -}}
{{- if contains "#" $url -}}
{{- fail (printf "webhooks.url %q must not contain a fragment (\"#…\"): the API server refuses it and it would swallow the /mutate and /validate the chart appends; set it as %s" $url $form) -}}
{{- end -}}
{{- $rest := trimPrefix "https://" $url -}}
{{- $authority := regexFind "^[^/]*" $rest -}}
{{- if contains "@" $authority -}}
{{/* Not echoed: user info may hold a password. */}}
{{- fail (printf "webhooks.url must not contain user info (\"USER@\" before the host): the API server refuses it; remove it and set it as %s" $form) -}}
{{- end -}}
{{- if not (regexMatch "^([A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*|\\[[0-9A-Fa-f:.]+\\])(:[0-9]{1,5})?$" $authority) -}}
{{- fail (printf "webhooks.url %q needs a host after https:// (a DNS name, an IPv4 address or a [bracketed] IPv6 address, optionally with :PORT): set it as %s" $url $form) -}}
{{- end -}}
{{- if not (regexMatch "^(/([-A-Za-z0-9._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*)?$" (trimPrefix $authority $rest)) -}}
{{- fail (printf "webhooks.url %q has a path with characters a URL cannot hold unencoded: percent-encode them, or set it as %s" $url $form) -}}
{{- end -}}
{{- regexReplaceAll "/+$" $url "" -}}
{{- end -}}
{{- end -}}

{{/* The host of webhooks.url without port or IPv6 brackets; empty when unset. */}}
{{- define "tagpin.webhookURLHost" -}}
{{- with include "tagpin.webhookURL" . -}}
{{- (urlParse .).hostname -}}
{{- end -}}
{{- end -}}

{{/* The Service's DNS names, as a JSON array: in-cluster callers use any of them. */}}
{{- define "tagpin.serviceNames" -}}
{{- $fullname := include "tagpin.fullname" . -}}
{{- $svc := include "tagpin.serviceHost" . -}}
{{- toJson (list $fullname (printf "%s.%s" $fullname .Release.Namespace) $svc (printf "%s.cluster.local" $svc)) -}}
{{- end -}}

{{/*
Names the serving certificate covers, as JSON {"dns": [...], "ips": [...]}: the Service's names,
plus the host of webhooks.url, which the API server verifies as an IP SAN for an IP literal and a
DNS SAN otherwise (Go ignores the CN).
*/}}
{{- define "tagpin.servingNames" -}}
{{- $dns := include "tagpin.serviceNames" . | fromJsonArray -}}
{{- $ips := list -}}
{{- with include "tagpin.webhookURLHost" . -}}
{{- if or (contains ":" .) (regexMatch "^((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])$" .) -}}
{{- $ips = append $ips . -}}
{{- else -}}
{{- $dns = append $dns (lower .) | uniq -}}
{{- end -}}
{{- end -}}
{{- toJson (dict "dns" $dns "ips" $ips) -}}
{{- end -}}

{{- define "tagpin.tlsSecretName" -}}
{{- if eq .Values.tls.mode "secret" -}}
{{- required "tls.secretName is required when tls.mode is secret: name the existing kubernetes.io/tls Secret" .Values.tls.secretName -}}
{{- else -}}
{{- default (printf "%s-tls" (include "tagpin.fullname" .)) .Values.tls.secretName -}}
{{- end -}}
{{- end -}}

{{/* Where the pod sees its certificate; the rendered config points the server at these files. */}}
{{- define "tagpin.configDir" -}}/etc/tagpin{{- end -}}
{{- define "tagpin.tlsCertPath" -}}/etc/tagpin/tls/tls.crt{{- end -}}
{{- define "tagpin.tlsKeyPath" -}}/etc/tagpin/tls/tls.key{{- end -}}

{{/* Where the pod sees the CredentialProviderConfig and the plugins: registries.credentialProviders. */}}
{{- define "tagpin.credentialProvidersConfigPath" -}}/etc/tagpin/credential-providers.yaml{{- end -}}
{{- define "tagpin.credentialProvidersBinDir" -}}/opt/credential-providers{{- end -}}

{{/* credentialProviders.* checked when enabled: something to run, and somewhere to run it from. */}}
{{- define "tagpin.checkCredentialProviders" -}}
{{- $cp := .Values.credentialProviders -}}
{{- if not ($cp.config.providers | default list) -}}
{{- fail "credentialProviders.config.providers must list at least one provider when credentialProviders.enabled is true (see the README's recipes for EKS, GKE and AKS)" -}}
{{- end -}}
{{- if not $cp.plugins -}}
{{- fail "credentialProviders.plugins must be the volume holding the plugin binaries when credentialProviders.enabled is true, e.g. --set credentialProviders.plugins.hostPath.path=/etc/eks/image-credential-provider" -}}
{{- end -}}
{{- end -}}

{{- define "tagpin.serverPort" -}}
{{- ((.Values.config.server | default dict).port | default 8443) | int -}}
{{- end -}}

{{- define "tagpin.metricsPort" -}}
{{- ((.Values.config.server | default dict).metricsPort | default 9090) | int -}}
{{- end -}}

{{/*
tagpin's config file. resolve.timeoutMs must end before the API server stops waiting
(webhooks.timeoutSeconds), or a slow registry turns into a webhook timeout instead of a clear
per-image answer: derived when unset, rejected when set too high.
*/}}
{{- define "tagpin.config" -}}
{{- $cfg := deepCopy (.Values.config | default dict) -}}
{{- $budgetMs := mul (int .Values.webhooks.timeoutSeconds) 1000 -}}
{{- $resolve := $cfg.resolve | default dict -}}
{{- if hasKey $resolve "timeoutMs" -}}
{{- if ge (int $resolve.timeoutMs) $budgetMs -}}
{{- fail (printf "config.resolve.timeoutMs (%d) must be below webhooks.timeoutSeconds*1000 (%d): lower it, or leave it unset to derive it" (int $resolve.timeoutMs) $budgetMs) -}}
{{- end -}}
{{- $_ := set $resolve "timeoutMs" (int $resolve.timeoutMs) -}}
{{- else -}}
{{- $_ := set $resolve "timeoutMs" (sub $budgetMs (min 2000 (mul (int .Values.webhooks.timeoutSeconds) 200))) -}}
{{- end -}}
{{- $_ := set $cfg "resolve" $resolve -}}
{{- $server := $cfg.server | default dict -}}
{{- if eq (include "tagpin.serverPort" .) (include "tagpin.metricsPort" .) -}}
{{- fail (printf "config.server.metricsPort must differ from config.server.port (both %s)" (include "tagpin.serverPort" .)) -}}
{{- end -}}
{{- $_ := set $server "port" (include "tagpin.serverPort" . | int) -}}
{{- $_ := set $server "metricsPort" (include "tagpin.metricsPort" . | int) -}}
{{- $_ := set $server "tlsCert" (include "tagpin.tlsCertPath" .) -}}
{{- $_ := set $server "tlsKey" (include "tagpin.tlsKeyPath" .) -}}
{{- $_ := set $cfg "server" $server -}}
{{- if .Values.credentialProviders.enabled -}}
{{- include "tagpin.checkCredentialProviders" . -}}
{{- $registries := $cfg.registries | default dict -}}
{{- $_ := set $registries "credentialProviders" (dict "config" (include "tagpin.credentialProvidersConfigPath" .) "binDir" (include "tagpin.credentialProvidersBinDir" .)) -}}
{{- $_ := set $cfg "registries" $registries -}}
{{- end -}}
{{- if .Values.audit.enabled -}}
{{- $_ := set $cfg "audit" (dict "enabled" true "intervalSeconds" (int .Values.audit.intervalSeconds) "lookupsPerSecond" (int .Values.audit.lookupsPerSecond) "leaseName" (include "tagpin.leaseName" .)) -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* The Lease that elects the replica running background audits (in the release namespace, $POD_NAMESPACE). */}}
{{- define "tagpin.leaseName" -}}{{ include "tagpin.fullname" . | trunc 57 | trimSuffix "-" }}-audit{{- end -}}

{{/* What the server reads once at start-up; a change rolls the pods. */}}
{{- define "tagpin.configChecksum" -}}
{{- if .Values.credentialProviders.enabled -}}
{{- printf "%s\n---\n%s" (include "tagpin.config" .) (toYaml .Values.credentialProviders.config) | sha256sum -}}
{{- else -}}
{{- include "tagpin.config" . | sha256sum -}}
{{- end -}}
{{- end -}}

{{/* Annotation on the generated Secret recording the names its certificate covers. */}}
{{- define "tagpin.servingNamesAnnotation" -}}tagpin.dev/serving-names{{- end -}}

{{/*
CA, certificate and key for tls.mode=helm, as JSON. Generated once per render and memoized in
.Values so the Secret and both webhook configurations carry the same CA. On upgrade the
existing Secret is reused through lookup, so the caBundle does not change under running pods,
unless the certificate does not cover the names it must (webhooks.url set or changed): then a new
one is generated as with tls.helm.regenerate. A Secret without the annotation predates it and
covers the Service names only.
*/}}
{{- define "tagpin.generatedTLS" -}}
{{- if not (hasKey .Values "tagpinGeneratedTLS") -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "tagpin.tlsSecretName" .) | default dict -}}
{{- $old := $existing.data | default dict -}}
{{- $names := include "tagpin.servingNames" . | fromJson -}}
{{- $covers := join "," (concat $names.dns $names.ips) -}}
{{- $serviceOnly := join "," (include "tagpin.serviceNames" . | fromJsonArray) -}}
{{- $covered := dig "metadata" "annotations" (include "tagpin.servingNamesAnnotation" .) $serviceOnly $existing -}}
{{- $material := dict -}}
{{- if and (not .Values.tls.helm.regenerate) (eq $covered $covers) (index $old "ca.crt") (index $old "tls.crt") (index $old "tls.key") -}}
{{- $ca := index $old "ca.crt" | b64dec -}}
{{- $material = dict "ca" $ca "cert" (index $old "tls.crt" | b64dec) "key" (index $old "tls.key" | b64dec) "caBundle" $ca -}}
{{- else -}}
{{- $days := int .Values.tls.helm.validityDays -}}
{{- $ca := genCA (printf "%s-ca" (include "tagpin.fullname" .)) $days -}}
{{- $cert := genSignedCert (include "tagpin.serviceHost" .) $names.ips $names.dns $days $ca -}}
{{- $bundle := $ca.Cert -}}
{{- if index $old "ca.crt" -}}
{{/* Regenerating: pods serve the old certificate until their volume refreshes, so keep its CA trusted meanwhile. */}}
{{- $bundle = printf "%s\n%s" (trimSuffix "\n" $ca.Cert) (index $old "ca.crt" | b64dec) -}}
{{- end -}}
{{- $material = dict "ca" $ca.Cert "cert" $cert.Cert "key" $cert.Key "caBundle" $bundle -}}
{{- end -}}
{{- $_ := set $material "covers" $covers -}}
{{- $_ := set .Values "tagpinGeneratedTLS" $material -}}
{{- end -}}
{{- toJson .Values.tagpinGeneratedTLS -}}
{{- end -}}

{{/* clientConfig.caBundle (base64 PEM) for the modes that know it at render time; empty for cert-manager. */}}
{{- define "tagpin.caBundle" -}}
{{- if eq .Values.tls.mode "helm" -}}
{{- (include "tagpin.generatedTLS" . | fromJson).caBundle | b64enc -}}
{{- else if eq .Values.tls.mode "secret" -}}
{{- required "tls.secret.caBundle (PEM) is required when tls.mode is secret" .Values.tls.secret.caBundle | b64enc -}}
{{- end -}}
{{- end -}}

{{- define "tagpin.certManagerCertificate" -}}
{{- printf "%s-serving" (include "tagpin.fullname" .) -}}
{{- end -}}

{{- define "tagpin.webhookAnnotations" -}}
{{- if eq .Values.tls.mode "cert-manager" }}
annotations:
  cert-manager.io/inject-ca-from: {{ printf "%s/%s" .Release.Namespace (include "tagpin.certManagerCertificate" .) }}
{{- end }}
{{- end -}}

{{/* Kinds tagpin can walk (src/config SUPPORTED_KINDS), as a JSON array. */}}
{{- define "tagpin.supportedKinds" -}}
["Pod","PodTemplate","ReplicationController","ReplicaSet","Deployment","StatefulSet","DaemonSet","Job","CronJob"]
{{- end -}}

{{/*
Custom kinds each preset of config.workloads.presets adds, as JSON: the webhook rules' part of
src/workload/kinds.ts PRESETS (a test holds the two together).
*/}}
{{- define "tagpin.presets" -}}
{"argo-rollouts":[{"apiGroup":"argoproj.io","kind":"Rollout","resource":"rollouts","versions":["v1alpha1"]}],"knative-serving":[{"apiGroup":"serving.knative.dev","kind":"Service","resource":"services","versions":["v1"]}]}
{{- end -}}

{{/* Every kind config.workloads adds (presets, then customKinds) as a JSON array of {apiGroup, kind, resource, versions}; a kind named twice fails. */}}
{{- define "tagpin.customKinds" -}}
{{- $workloads := .Values.config.workloads | default dict -}}
{{- $presets := include "tagpin.presets" . | fromJson -}}
{{- $kinds := list -}}
{{- range $name := $workloads.presets | default list -}}
{{- $kinds = concat $kinds (index $presets $name) -}}
{{- end -}}
{{- range $kind := $workloads.customKinds | default list -}}
{{- $kinds = append $kinds (dict "apiGroup" $kind.apiGroup "kind" $kind.kind "resource" $kind.resource "versions" ($kind.versions | default (list "*"))) -}}
{{- end -}}
{{- $seen := dict -}}
{{- range $kind := $kinds -}}
{{- range $key := list (printf "kind %s" $kind.kind) (printf "resource %s" $kind.resource) -}}
{{- $id := printf "%s %s" $kind.apiGroup $key -}}
{{- if hasKey $seen $id -}}
{{- fail (printf "config.workloads names %s of group %s twice (in presets or customKinds): keep one of them" $key $kind.apiGroup) -}}
{{- end -}}
{{- $_ := set $seen $id true -}}
{{- end -}}
{{- end -}}
{{- toJson $kinds -}}
{{- end -}}

{{/*
Kinds the mutating webhook covers, as JSON {"names": [kind names], "custom": [kinds]}: config.mutate.kinds,
or, when it is unset, every built-in kind and every kind of config.workloads. A name that is neither
fails, as tagpin itself would refuse it at start-up.
*/}}
{{- define "tagpin.mutatedKinds" -}}
{{- $mutate := .Values.config.mutate | default dict -}}
{{- $builtIn := include "tagpin.supportedKinds" . | fromJsonArray -}}
{{- $custom := include "tagpin.customKinds" . | fromJsonArray -}}
{{- $known := $builtIn -}}
{{- range $custom -}}
{{- $known = append $known .kind -}}
{{- end -}}
{{- $names := $known -}}
{{- if hasKey $mutate "kinds" -}}
{{- $names = $mutate.kinds | default list -}}
{{- range $name := $names -}}
{{- if not (has $name $known) -}}
{{- fail (printf "config.mutate.kinds names %s, which is neither a built-in kind nor a kind of config.workloads: add it under config.workloads or remove it (known: %s)" $name (join ", " $known)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $mutated := list -}}
{{- range $custom -}}
{{- if has .kind $names -}}
{{- $mutated = append $mutated . -}}
{{- end -}}
{{- end -}}
{{- toJson (dict "names" $names "custom" $mutated) -}}
{{- end -}}

{{/*
Resource rules: per built-in kind in .kinds (pods/ephemeralcontainers because a rule on pods alone
never sees them), then one per kind of .custom, at the versions it lists, namespaced or not.
*/}}
{{- define "tagpin.rules" -}}
{{- $table := list
  (list "" "Pod" "pods") (list "" "Pod" "pods/ephemeralcontainers")
  (list "" "PodTemplate" "podtemplates") (list "" "ReplicationController" "replicationcontrollers")
  (list "apps" "Deployment" "deployments") (list "apps" "ReplicaSet" "replicasets")
  (list "apps" "StatefulSet" "statefulsets") (list "apps" "DaemonSet" "daemonsets")
  (list "batch" "Job" "jobs") (list "batch" "CronJob" "cronjobs") -}}
{{- $kinds := .kinds -}}
{{- range $group := list "" "apps" "batch" }}
{{- $resources := list -}}
{{- range $row := $table -}}
{{- if and (eq (index $row 0) $group) (has (index $row 1) $kinds) -}}
{{- $resources = append $resources (index $row 2) -}}
{{- end -}}
{{- end -}}
{{- if $resources }}
- apiGroups: [{{ $group | quote }}]
  apiVersions: ["v1"]
  operations: ["CREATE", "UPDATE"]
  resources: {{ toJson $resources }}
  scope: Namespaced
{{- end }}
{{- end }}
{{- range $custom := .custom | default list }}
- apiGroups: [{{ $custom.apiGroup | quote }}]
  apiVersions: {{ toJson $custom.versions }}
  operations: ["CREATE", "UPDATE"]
  resources: [{{ $custom.resource | quote }}]
  scope: "*"
{{- end }}
{{- end -}}

{{/*
Namespaces the webhooks never match, as a JSON array: the control plane's own, tagpin's (no
deadlock while tagpin itself restarts), cert-manager's when it issues tagpin's certificate (it must
keep working while tagpin is down), and config.exclude.namespaces.
*/}}
{{- define "tagpin.excludedNamespaces" -}}
{{- $excluded := list "kube-system" "kube-node-lease" "kube-public" .Release.Namespace -}}
{{- if eq .Values.tls.mode "cert-manager" -}}
{{- $excluded = append $excluded .Values.tls.certManager.namespace -}}
{{- end -}}
{{- toJson (concat $excluded (((.Values.config.exclude | default dict).namespaces) | default list) | uniq) -}}
{{- end -}}

{{/* Excluded namespaces and the opt-out label always apply; the opt-in label, when enabled, narrows further. */}}
{{- define "tagpin.namespaceSelector" -}}
namespaceSelector:
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values: {{ include "tagpin.excludedNamespaces" . }}
    # NotIn, so namespaces without the label stay matched.
    - key: {{ .Values.webhooks.optOut.labelKey | quote }}
      operator: NotIn
      values: [{{ .Values.webhooks.optOut.labelValue | quote }}]
    {{- if .Values.webhooks.optIn.enabled }}
    - key: {{ .Values.webhooks.optIn.labelKey | quote }}
      operator: In
      values: [{{ .Values.webhooks.optIn.labelValue | quote }}]
    {{- end }}
{{- end -}}

{{/* Fields both webhooks share. */}}
{{- define "tagpin.webhookCommon" -}}
admissionReviewVersions: ["v1"]
sideEffects: None
timeoutSeconds: {{ .Values.webhooks.timeoutSeconds | int }}
matchPolicy: Equivalent
{{ include "tagpin.namespaceSelector" . }}
{{- with .Values.webhooks.objectSelector }}
objectSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.webhooks.matchConditions }}
matchConditions:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The Service, or webhooks.url for a tagpin outside the cluster; the caBundle of the TLS mode either way. */}}
{{- define "tagpin.clientConfig" -}}
{{- $url := include "tagpin.webhookURL" .root -}}
clientConfig:
  {{- if $url }}
  url: {{ printf "%s%s" $url .path | quote }}
  {{- else }}
  service:
    name: {{ include "tagpin.fullname" .root }}
    namespace: {{ .root.Release.Namespace }}
    path: {{ .path }}
    port: {{ .root.Values.service.port | int }}
  {{- end }}
  {{- with include "tagpin.caBundle" .root }}
  caBundle: {{ . }}
  {{- end }}
{{- end -}}
