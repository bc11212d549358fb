/**
 * The parts of `mlscale deploy k8s` beyond the Deployment, Service and HPA (deploy/configs.ts):
 * the model repository's volume (a PersistentVolumeClaim, or one the cluster already has), the
 * pod's memory budget, the PodDisruptionBudget; and `mlscale deploy kserve`: a KServe
 * `ServingRuntime` for mlscale (it speaks the Open Inference Protocol, v2) and an
 * `InferenceService` that uses it.
 *
 * The image is the one the repository's Dockerfile builds (`podman build -t mlscale:<version> .`,
 * see docs/deploy.md): it runs as user 10001, listens on 8000 and takes the model repository at
 * /models.
 *
 * @module
 */
import { defaultModelSettings } from '../serve/options.js';
import { version } from '../version.js';

/** The image's name as the Dockerfile is built (docs/deploy.md) and the manifests reference it. */
export const kImage = `mlscale:${version}`;
/** The non-root user the Dockerfile creates. */
export const kImageUser = 10001;

/** Where the model repository comes from. */
export interface RepositoryVolume {
  /** An existing PersistentVolumeClaim to mount; undefined: the manifests create `<name>-models`. */
  readonly repositoryClaim?: string;
  /** The size of the claim the manifests create, in GiB. */
  readonly repositorySizeGiB: number;
}

const q = (s: string): string => JSON.stringify(s);

/** The claim's name the Deployment mounts. */
export function claimName(o: { readonly name: string } & RepositoryVolume): string {
  return o.repositoryClaim ?? `${o.name}-models`;
}

/**
 * The claim for the model repository: ReadOnlyMany, so that every replica on every node mounts the
 * same files (fill it once, e.g. from a Job or `kubectl cp` into a pod that mounts it read-write).
 */
export function repositoryClaimManifest(o: { readonly name: string } & RepositoryVolume): string {
  return `# The model repository (<model>/<version>/model.onnx, config.pbtxt or config.json beside the
# versions). Every replica mounts it read-only; fill it once (a Job, or 'kubectl cp' into a pod that
# mounts it read-write). Give --repository-claim to use a claim the cluster already has.
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: ${q(claimName(o))}
spec:
  accessModes: ["ReadOnlyMany"]
  resources:
    requests:
      storage: ${o.repositorySizeGiB}Gi
`;
}

/** The pod's volume for the repository claim, under `spec.template.spec`. */
export function repositoryVolume(o: { readonly name: string } & RepositoryVolume): string {
  return `      volumes:
        - name: models
          persistentVolumeClaim:
            claimName: ${q(claimName(o))}
            readOnly: true`;
}

/** The container's mount of the repository, read-only, at the path `--model-repository` names. */
export function repositoryMount(modelRepository: string): string {
  return `          volumeMounts:
            - name: models
              mountPath: ${q(modelRepository)}
              readOnly: true`;
}

/**
 * The V8 heap's share of the pod's memory, in MiB. The limit covers the whole process: V8's heap
 * (request bodies, JSON, queues) and onnxruntime's native memory (the model and its arenas, per
 * instance), which V8 does not see. Capping the heap at half the limit makes an overloaded server
 * collect garbage, and fail a request rather than be OOM-killed, while onnxruntime keeps the rest.
 */
export function heapMiB(memoryMiB: number): number {
  return Math.max(64, Math.floor(memoryMiB / 2));
}

/** The container's hardening and memory environment, shared by the Deployment and the runtime. */
export function containerHardening(memoryMiB: number, indent: string): string {
  return [
    `env:`,
    `  - name: NODE_OPTIONS`,
    `    value: "--max-old-space-size=${heapMiB(memoryMiB)}"`,
    `securityContext:`,
    `  runAsNonRoot: true`,
    `  runAsUser: ${kImageUser}`,
    `  allowPrivilegeEscalation: false`,
    `  capabilities:`,
    `    drop: ["ALL"]`,
  ]
    .map((line) => indent + line)
    .join('\n');
}

/** A PodDisruptionBudget: a node drain takes at most one replica away at a time. */
export function disruptionBudgetManifest(o: { readonly name: string }): string {
  return `# Voluntary disruptions (node drains, cluster upgrades) take one replica at a time: the others
# keep serving while it drains (readiness turns false first, see the preStop hook).
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: ${q(o.name)}
spec:
  maxUnavailable: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: ${q(o.name)}
`;
}

/** What `mlscale deploy kserve` writes. */
export interface KServeOptions {
  /** The ServingRuntime's name, which the InferenceService's `runtime` names. */
  readonly name: string;
  readonly image: string;
  /** The example InferenceService's name. */
  readonly serviceName: string;
  /** Where KServe's storage initializer fetches the model repository from (s3://, gs://, pvc://). */
  readonly storageUri: string;
  readonly cpu: number;
  readonly memoryMiB: number;
  readonly port: number;
}

export const kDefaultKServeOptions: Omit<KServeOptions, 'storageUri'> = {
  name: 'mlscale',
  image: kImage,
  serviceName: 'mlscale-example',
  cpu: 2,
  memoryMiB: 2048,
  port: 8080,
};

/**
 * A KServe `ServingRuntime` for mlscale and an example `InferenceService` using it. KServe's
 * storage initializer puts the `storageUri` contents at /mnt/models: there, a model repository
 * (`<model>/<version>/model.onnx`), which mlscale serves as it is, each model under its own name,
 * on the v2 protocol KServe's clients and its queue proxy speak.
 */
export function kserveManifests(o: KServeOptions): string {
  const threads = defaultModelSettings(Math.max(1, Math.floor(o.cpu)));
  return `# Generated by mlscale ${version} ('mlscale deploy kserve'): mlscale as a KServe serving runtime for
# ONNX models on the Open Inference Protocol (v2), and an InferenceService that uses it.
apiVersion: serving.kserve.io/v1alpha1
kind: ServingRuntime
metadata:
  name: ${q(o.name)}
  annotations:
    prometheus.kserve.io/port: "${o.port}"
    prometheus.kserve.io/path: /metrics
spec:
  supportedModelFormats:
    - name: onnx
      version: "1"
      autoSelect: true
      priority: 1
  protocolVersions:
    - v2
  multiModel: false
  containers:
    - name: kserve-container
      image: ${q(o.image)}
      args:
        - serve
        - --model-repository
        - /mnt/models
        - --host
        - 0.0.0.0
        - --port
        - "${o.port}"
        - --instances
        - "${threads.instances}"
        - --intra-op-threads
        - "${threads.intraOpThreads}"
      ports:
        - containerPort: ${o.port}
          protocol: TCP
      resources:
        requests:
          cpu: "${o.cpu}"
          memory: ${o.memoryMiB}Mi
        limits:
          memory: ${o.memoryMiB}Mi
${containerHardening(o.memoryMiB, '      ')}
      readinessProbe:
        httpGet:
          path: /v2/health/ready
          port: ${o.port}
        periodSeconds: 2
      livenessProbe:
        httpGet:
          path: /v2/health/live
          port: ${o.port}
        periodSeconds: 10
---
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: ${q(o.serviceName)}
spec:
  predictor:
    model:
      modelFormat:
        name: onnx
      protocolVersion: v2
      runtime: ${q(o.name)}
      storageUri: ${q(o.storageUri)}
`;
}
