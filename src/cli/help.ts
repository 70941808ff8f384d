// Help texts of the command line, one per command plus the overview.

const COMMON_FLAGS = `Flags of every command:
  --insecure-registry HOST[:PORT]  reach this registry over plain HTTP (repeatable); it may be on a
                                   loopback or private address
  --allow-registry HOST            contact only listed registries (repeatable, globs like *.corp);
                                   a listed host may be on any address, private and link-local included
  --mirror HOST=URL                look HOST's images up at this mirror or pull-through cache first
                                   (repeatable, tried in order, then HOST itself), e.g.
                                   docker.io=http://10.0.0.5:5000; http:// is plain HTTP
  --ca-file FILE                   also trust this PEM bundle for registry TLS
  --docker-config FILE             docker config.json with registry credentials (default: registries.dockerConfig,
                                   else $DOCKER_CONFIG/config.json, else ~/.docker/config.json, if it exists);
                                   its credHelpers/credsStore run docker-credential-NAME from PATH
  --config FILE                    tagpin configuration (default: $TAGPIN_CONFIG, else built-in defaults)
  -h, --help                       show this help
Registry requests go through $HTTPS_PROXY (http:// registries: $HTTP_PROXY) when set, except for
the hosts in $NO_PROXY.`;

const PLATFORM_FLAG = `  --platform OS/ARCH[/VARIANT]
                           pin the manifest a multi-platform image lists for this platform
                           (linux/amd64, linux/arm64, linux/arm/v7) instead of the index;
                           single-platform images keep their one manifest's digest`;

const EXIT_CODES = `Exit codes: 0 ok; 1 policy violations (check), unresolvable images (resolve, pin), or images to fix (audit);
            2 usage, configuration or input error.`;

/** The overview printed by `tagpin --help`. */
export const OVERVIEW = `tagpin pins container image tags to digests.

Usage:
  tagpin serve   [--config FILE]                    run the admission webhook server
  tagpin resolve [--config FILE] [-o text|json] IMAGE...
                                                    print the digest each image's tag names now
  tagpin pin     [--config FILE] [-f PATH|-]... [-w] pin every image in manifests, Dockerfiles and
                                                    compose files
  tagpin check   [--config FILE] [-f PATH|-]... [-o text|json]
                                                    report images that break the policy
  tagpin audit   [--kubeconfig FILE] [-n NAMESPACE|-A] [-o text|json]
                                                    report the state of every image running in a cluster
  tagpin version                                    print the version

${COMMON_FLAGS}

${EXIT_CODES}
Run 'tagpin COMMAND --help' for more about a command.
`;

/** Per-command help, keyed by command name. */
export const COMMAND_HELP = {
  serve: `Usage: tagpin serve [--config FILE] [flags]

Runs the mutating (/mutate) and validating (/validate) admission webhooks over HTTPS on
server.port, and Prometheus metrics on server.metricsPort, until SIGTERM or SIGINT.

${COMMON_FLAGS}
`,
  resolve: `Usage: tagpin resolve [--config FILE] [-o text|json] [flags] IMAGE...

Looks up the digest each image's tag names in its registry (the index digest for multi-arch
images, unless --platform names one). An image that already carries a digest resolves to itself without a lookup.
Each image has its own resolve.timeoutMs budget.

An untagged image is looked up as latest, with a note on stderr.

  -o, --output text|json   text: IMAGE<TAB>PINNED per line (default);
                           json: [{image, pinned, digest, registry, repository, tag}], and
                           {image, error: {code, message}} for each image that failed
${PLATFORM_FLAG}

${COMMON_FLAGS}

${EXIT_CODES}
`,
  pin: `Usage: tagpin pin [--config FILE] [-f PATH|-]... [-w] [flags]

Pins every image of the kinds in mutate.kinds in YAML or JSON manifests (multi-document files,
kind: List walked), the FROM and COPY --from images of Dockerfiles, and services.*.image of
compose files. Directories are searched recursively for *.yaml, *.yml, *.json, Dockerfile,
Containerfile, Dockerfile.*, *.Dockerfile; '-' is stdin.
Only image values change: comments, key order, quoting and every other byte stay as they are.
Images that already carry a digest are left alone; excluded images, objects in excluded namespaces
or of other kinds, build arguments ($ARG) and images a compose service builds are left alone with
a note on stderr. If any image cannot be resolved, nothing is written.

  -f, --filename PATH|-    file or directory, or '-' for stdin (repeatable, required); each must
                           hold a manifest, Dockerfile or compose file, else exit 2
  -w, --write              rewrite changed files in place, naming each on stderr, instead of
                           printing to stdout
      --allow-empty        a PATH without manifests is a note, not an error
${PLATFORM_FLAG}

A kind: ResourceList (config.kubernetes.io/v1) on stdin is read as a KRM function's input, as
kustomize and kpt send it: the items come back pinned, and images that fail are reported in
results (severity error, exit code 1) with the items unchanged.

${COMMON_FLAGS}

${EXIT_CODES}
`,
  check: `Usage: tagpin check [--config FILE] [-f PATH|-]... [-o text|json] [flags]

Checks every image in manifests against the validate.* policy without contacting any registry.
Verdicts: ok, violation, invalid (not a usable image reference), excluded (exclude.*).
Exit code 1 when any image is a violation or invalid and validate.action is deny; with warn or
audit the verdicts are reported the same way but the exit code is 0.

Reads the same inputs as pin: manifests, Dockerfiles (KIND/NAME is stage/NAME or stage/INDEX,
PATH is FROM or COPY) and compose files (service/NAME).

  -f, --filename PATH|-    file or directory, or '-' for stdin (repeatable, required); each must
                           hold a manifest, Dockerfile or compose file, else exit 2
  -o, --output text|json   text: FILE:LINE KIND/NAME PATH IMAGE VERDICT REASON per image and a
                           summary (default);
                           json: [{file, line, kind, namespace, name, path, image, registry,
                                   repository, tag, digest, verdict, reason}]
      --allow-empty        a PATH without manifests is a note, not an error

${COMMON_FLAGS}

${EXIT_CODES}
`,
  audit: `Usage: tagpin audit [--config FILE] [--kubeconfig FILE] [-n NAMESPACE|-A] [-o text|json] [flags]

Lists every image field of every Pod, PodTemplate, ReplicationController, ReplicaSet, Deployment,
StatefulSet, DaemonSet, Job and CronJob (one paged LIST per kind) and gives each a state:
  pinned     a digest that its tag still names (without a tag: the registry still holds it)
  drifted    the tag now names another digest (both are shown), or no longer exists
  unpinned   no digest, and validate.* allows that
  violation  validate.* denies the image, or it is not a valid reference
  missing    the pinned digest is no longer in the registry
  failed     the registry could not be asked (the reason is shown)
Objects controlled by another listed object are reported as their top owner (a Deployment, not
its ReplicaSets and Pods). Images are looked up with each pod's pull secrets, like the webhook:
one HEAD per distinct tag, and per digest that needs asking, at most 16 at once.
Exit code 1 when an image that is not excluded (exclude.*) is drifted, unpinned, missing or a
violation; failed images are listed and counted on stderr but leave the exit code alone.

  --kubeconfig FILE        the cluster to audit (default: in-cluster, else $KUBECONFIG)
  -n, --namespace NAME     audit one namespace (default: the kubeconfig context's, else default)
  -A, --all-namespaces     audit every namespace
  -o, --output text|json   text: NAMESPACE KIND/NAME PATH IMAGE STATE [REASON] per image and a summary
                           (default); json: [{namespace, apiVersion, kind, name, uid, path, image,
                                   state, digest, tagDigest, reason, excluded}]

${COMMON_FLAGS}

Exit codes: 0 nothing to report; 1 images drifted, unpinned, missing or violations;
            2 usage or configuration error, or a kind that could not be listed.
`,
  version: `Usage: tagpin version

Prints tagpin's version and the Node.js version running it.
`,
} as const;

/** Commands the CLI knows. */
export type CommandName = keyof typeof COMMAND_HELP;

/** True when `name` is one of the commands. */
export function isCommandName(name: string): name is CommandName {
  return Object.hasOwn(COMMAND_HELP, name);
}
