/**
 * `mlscale deploy k8s` and `mlscale deploy kserve`: every generated manifest is validated against
 * the Kubernetes OpenAPI schemas (the `kubernetes-models` package's validators, generated from
 * them), and holds what a deployment needs: the repository mounted, resources consistent with the
 * server's memory budget, the health probes, a PodDisruptionBudget and an HPA.
 *
 * KServe's CRDs ship their schemas without the nested types (x-kubernetes-preserve-unknown-fields),
 * and no npm package carries them: the ServingRuntime's container is validated as a Kubernetes
 * Container (which it is: `spec.containers` is `[]corev1.Container` in KServe's Go types), and the
 * rest is checked field by field against KServe's ServingRuntimeSpec and InferenceService types.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAllDocuments } from 'yaml';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Service } from 'kubernetes-models/v1/Service';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Pod } from 'kubernetes-models/v1/Pod';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { kDefaultKubernetesOptions, kubernetesManifests } from '../../src/deploy/configs.js';
import {
  heapMiB,
  kDefaultKServeOptions,
  kImage,
  kserveManifests,
} from '../../src/deploy/kubernetes-parts.js';
import { runCli } from '../helpers.js';

type Doc = Record<string, any>;

function documents(text: string): Doc[] {
  return parseAllDocuments(text).map((d) => {
    assert.deepEqual(d.errors, [], 'valid YAML');
    return d.toJS() as Doc;
  });
}

const kValidators: Record<string, (doc: Doc) => void> = {
  Deployment: (d) => new Deployment(d as never).validate(),
  Service: (d) => new Service(d as never).validate(),
  PersistentVolumeClaim: (d) => new PersistentVolumeClaim(d as never).validate(),
  PodDisruptionBudget: (d) => new PodDisruptionBudget(d as never).validate(),
  HorizontalPodAutoscaler: (d) => new HorizontalPodAutoscaler(d as never).validate(),
};

function validateAll(docs: Doc[]): void {
  for (const doc of docs) {
    const validate = kValidators[doc.kind];
    assert.ok(validate, `a validator for ${doc.kind}`);
    validate(doc);
  }
}

describe('mlscale deploy k8s', () => {
  const o = { ...kDefaultKubernetesOptions, modelRepository: '/models' };

  test('every manifest validates against the Kubernetes OpenAPI schemas', () => {
    const docs = documents(kubernetesManifests(o));
    assert.deepEqual(
      docs.map((d) => d.kind),
      [
        'PersistentVolumeClaim',
        'Deployment',
        'Service',
        'PodDisruptionBudget',
        'HorizontalPodAutoscaler',
      ],
    );
    validateAll(docs);
    // The validators catch a wrong manifest (they are not a no-op).
    const broken = structuredClone(docs[1]!);
    broken.spec.template.spec.containers[0].ports[0].containerPort = 'http';
    assert.throws(() => kValidators.Deployment!(broken));
  });

  test('the repository is a claim mounted read-only where --model-repository says', () => {
    const [claim, deployment] = documents(kubernetesManifests(o));
    assert.equal(claim!.metadata.name, 'mlscale-models');
    assert.deepEqual(claim!.spec.accessModes, ['ReadOnlyMany']);
    const pod = deployment!.spec.template.spec;
    assert.deepEqual(pod.volumes, [
      { name: 'models', persistentVolumeClaim: { claimName: 'mlscale-models', readOnly: true } },
    ]);
    const container = pod.containers[0];
    assert.deepEqual(container.volumeMounts, [
      { name: 'models', mountPath: '/models', readOnly: true },
    ]);
    const args: string[] = container.args;
    assert.equal(args[args.indexOf('--model-repository') + 1], '/models');
    // An existing claim: mounted, none created.
    const given = documents(kubernetesManifests({ ...o, repositoryClaim: 'shared-models' }));
    assert.deepEqual(given.map((d) => d.kind).includes('PersistentVolumeClaim'), false);
    assert.equal(
      given[0]!.spec.template.spec.volumes[0].persistentVolumeClaim.claimName,
      'shared-models',
    );
    validateAll(given);
  });

  test('resources follow the memory budget: V8 heap capped at half the limit, threads at the CPU request', () => {
    const deployment = documents(kubernetesManifests({ ...o, memoryMiB: 4096, cpu: 4 }))[1]!;
    const container = deployment.spec.template.spec.containers[0];
    assert.deepEqual(container.resources, {
      requests: { cpu: '4', memory: '4096Mi' },
      limits: { memory: '4096Mi' },
    });
    assert.deepEqual(container.env, [{ name: 'NODE_OPTIONS', value: '--max-old-space-size=2048' }]);
    assert.equal(heapMiB(4096), 2048);
    const args: string[] = container.args;
    const instances = Number(args[args.indexOf('--instances') + 1]);
    const threads = Number(args[args.indexOf('--intra-op-threads') + 1]);
    assert.equal(instances * threads, 4);
  });

  test('readiness on /v2/health/ready, liveness on /v2/health/live, non-root, the image the Dockerfile builds', () => {
    const deployment = documents(kubernetesManifests(o))[1]!;
    const container = deployment.spec.template.spec.containers[0];
    assert.equal(container.readinessProbe.httpGet.path, '/v2/health/ready');
    assert.equal(container.livenessProbe.httpGet.path, '/v2/health/live');
    assert.equal(container.securityContext.runAsNonRoot, true);
    assert.equal(container.securityContext.runAsUser, 10001);
    assert.equal(container.image, kImage);
  });

  test('a PodDisruptionBudget and an autoscaling/v2 HPA select and scale the Deployment', () => {
    const docs = documents(kubernetesManifests(o));
    const deployment = docs.find((d) => d.kind === 'Deployment')!;
    const pdb = docs.find((d) => d.kind === 'PodDisruptionBudget')!;
    const hpa = docs.find((d) => d.kind === 'HorizontalPodAutoscaler')!;
    assert.equal(pdb.apiVersion, 'policy/v1');
    assert.deepEqual(pdb.spec.selector.matchLabels, deployment.spec.selector.matchLabels);
    assert.equal(pdb.spec.maxUnavailable, 1);
    assert.equal(hpa.apiVersion, 'autoscaling/v2');
    assert.deepEqual(hpa.spec.scaleTargetRef, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'mlscale',
    });
  });
});

describe('mlscale deploy kserve', () => {
  const o = { ...kDefaultKServeOptions, storageUri: 'pvc://mlscale-models/repo' };

  test('a ServingRuntime for ONNX on protocol v2, its container valid as a Kubernetes Container', () => {
    const [runtime, service] = documents(kserveManifests(o));
    assert.equal(runtime!.apiVersion, 'serving.kserve.io/v1alpha1');
    assert.equal(runtime!.kind, 'ServingRuntime');
    assert.equal(runtime!.metadata.name, 'mlscale');
    // ServingRuntimeSpec: supportedModelFormats []{name, version, autoSelect, priority}, protocolVersions []string.
    assert.deepEqual(runtime!.spec.supportedModelFormats, [
      { name: 'onnx', version: '1', autoSelect: true, priority: 1 },
    ]);
    assert.deepEqual(runtime!.spec.protocolVersions, ['v2']);
    assert.equal(typeof runtime!.spec.multiModel, 'boolean');
    const containers = runtime!.spec.containers;
    assert.equal(containers.length, 1);
    assert.equal(containers[0].name, 'kserve-container');
    new Pod({ metadata: { name: 'check' }, spec: { containers } } as never).validate();
    const args: string[] = containers[0].args;
    assert.equal(args[args.indexOf('--model-repository') + 1], '/mnt/models');
    assert.equal(containers[0].readinessProbe.httpGet.path, '/v2/health/ready');
    assert.equal(containers[0].livenessProbe.httpGet.path, '/v2/health/live');
    assert.equal(containers[0].image, kImage);

    // InferenceService (v1beta1): predictor.model {modelFormat.name, protocolVersion, runtime, storageUri}.
    assert.equal(service!.apiVersion, 'serving.kserve.io/v1beta1');
    assert.equal(service!.kind, 'InferenceService');
    assert.deepEqual(service!.spec.predictor.model, {
      modelFormat: { name: 'onnx' },
      protocolVersion: 'v2',
      runtime: 'mlscale',
      storageUri: 'pvc://mlscale-models/repo',
    });
    assert.match(service!.metadata.name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  });

  test('the command writes it, and refuses a missing --storage-uri or a k8s-only flag by name', async () => {
    const ok = await runCli(['deploy', 'kserve', '--storage-uri', 's3://bucket/models']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(
      documents(ok.stdout).map((d) => d.kind),
      ['ServingRuntime', 'InferenceService'],
    );
    const missing = await runCli(['deploy', 'kserve']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /mlscale deploy kserve needs --storage-uri URI/);
    assert.equal(missing.stdout, '');
    const wrong = await runCli([
      'deploy',
      'kserve',
      '--storage-uri',
      's3://b/m',
      '--replicas',
      '3',
    ]);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /--replicas does not apply to 'mlscale deploy kserve'/);
    const k8s = await runCli([
      'deploy',
      'k8s',
      '--model-repository',
      '/models',
      '--repository-claim',
      'Bad_Name',
    ]);
    assert.equal(k8s.code, 2);
    assert.match(k8s.stderr, /--repository-claim must be a DNS label/);
  });
});
